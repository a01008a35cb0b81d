// Consumer-group benchmark driver for bench/groups/run.ts: one JVM, one thread per group member
// (one KafkaConsumer each), commands on stdin, one JSON object per line on stdout. Timestamps are
// System.nanoTime() of this JVM, so they compare across threads.
//
//   java -cp <kafka-clients jars>:<classes> GroupBench <bootstrap> <topic> <partitions> <settings>
//
// settings: comma-separated key=value (members, sessionMs, heartbeatMs, commits, warmup,
// timeoutMs, nonce). Commands (one per line):
//   setup            create the topic, start a stable group of <members> per protocol
//   rep <n>          per protocol: a 6th member joins (phase "join"), then the oldest member
//                    closes (phase "leave"); then per protocol: commitSync latency ("commit")
//   quit             close every member and exit
// Output lines: {"ev":"assigned"|"revoked"|"lost",...} per rebalance callback, {"ev":"phase",...}
// per measured phase, {"ev":"done","cmd":...} after each command, {"ev":"error",...} on failure.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class GroupBench {
  static final PrintStream OUT = new PrintStream(System.out, false);
  static String bootstrap;
  static String topic;
  static int partitions;
  static Map<String, String> settings = new HashMap<>();

  static synchronized void emit(String json) {
    OUT.println(json);
    OUT.flush();
  }

  static String q(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  static int setting(String k, int d) {
    String v = settings.get(k);
    return v == null ? d : Integer.parseInt(v);
  }

  /** The partitions each member owns, per group, updated by the rebalance callbacks. */
  static final class Group {
    final String proto;
    final String id;
    final Map<Integer, Set<Integer>> owned = new HashMap<>();
    final Set<Integer> active = new HashSet<>();
    final List<Member> members = new ArrayList<>();
    int nextMember = 0;
    /** nanoTime of the last callback after which the group was balanced; -1 while it is not. */
    long balancedAt = -1;

    Group(String proto, String id) {
      this.proto = proto;
      this.id = id;
    }

    /** Every active member owns floor(P/n) or ceil(P/n) partitions, each partition once. */
    boolean balanced() {
      int n = active.size();
      if (n == 0) return false;
      int lo = partitions / n;
      int hi = (partitions + n - 1) / n;
      Set<Integer> union = new HashSet<>();
      int sum = 0;
      for (int m : active) {
        Set<Integer> s = owned.getOrDefault(m, Set.of());
        if (s.size() < lo || s.size() > hi) return false;
        sum += s.size();
        union.addAll(s);
      }
      return sum == partitions && union.size() == partitions;
    }

    synchronized void update(int member, String ev, Collection<TopicPartition> parts, long t) {
      Set<Integer> s = owned.computeIfAbsent(member, k -> new HashSet<>());
      List<Integer> ps = new ArrayList<>();
      for (TopicPartition tp : parts) {
        ps.add(tp.partition());
        if (ev.equals("assigned")) s.add(tp.partition());
        else s.remove(tp.partition());
      }
      recheck(t);
      emit("{\"ev\":" + q(ev) + ",\"t\":" + t + ",\"proto\":" + q(proto) + ",\"member\":" + member
          + ",\"n\":" + ps.size() + ",\"owned\":" + s.size() + ",\"balanced\":" + (balancedAt >= 0) + "}");
    }

    synchronized void recheck(long t) {
      boolean b = balanced();
      if (b && balancedAt < 0) balancedAt = t;
      if (!b) balancedAt = -1;
      notifyAll();
    }

    /** Waits until balanced with balancedAt >= since; returns balancedAt. */
    synchronized long awaitBalanced(long since, long timeoutMs) throws InterruptedException {
      long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
      while (!(balancedAt >= 0 && balancedAt >= since)) {
        long left = (deadline - System.nanoTime()) / 1_000_000L;
        if (left <= 0) throw new IllegalStateException(proto + " group not balanced after " + timeoutMs
            + " ms: " + describe());
        wait(Math.min(left, 100));
        for (Member m : members) if (m.failure != null) throw new IllegalStateException(
            proto + " member " + m.index + " failed: " + m.failure);
      }
      return balancedAt;
    }

    String describe() {
      StringBuilder b = new StringBuilder();
      for (int m : active) b.append(m).append('=').append(owned.getOrDefault(m, Set.of()).size()).append(' ');
      return b.toString().trim();
    }
  }

  static Properties consumerProps(String proto, String groupId) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    if (proto.equals("classic")) {
      p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
      p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
          "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(setting("sessionMs", 10000)));
      p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, String.valueOf(setting("heartbeatMs", 1000)));
    } else {
      p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
      p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, "uniform");
    }
    return p;
  }

  /** One group member: its own thread and KafkaConsumer, polling until asked to close. */
  static final class Member implements Runnable {
    final Group g;
    final int index;
    final Thread thread;
    volatile boolean stop = false;
    volatile long startedAt = -1;
    volatile long closeAt = -1;
    volatile long closedAt = -1;
    volatile String failure;

    Member(Group g, int index) {
      this.g = g;
      this.index = index;
      this.thread = new Thread(this, g.proto + "-member-" + index);
      this.thread.setDaemon(true);
    }

    public void run() {
      startedAt = System.nanoTime();
      try {
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(g.proto, g.id));
        try {
          c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> parts) {
              if (!parts.isEmpty()) g.update(index, "revoked", parts, System.nanoTime());
            }

            public void onPartitionsAssigned(Collection<TopicPartition> parts) {
              g.update(index, "assigned", parts, System.nanoTime());
            }

            public void onPartitionsLost(Collection<TopicPartition> parts) {
              if (!parts.isEmpty()) g.update(index, "lost", parts, System.nanoTime());
            }
          });
          while (!stop) c.poll(Duration.ofMillis(50));
          closeAt = System.nanoTime();
        } finally {
          c.close(CloseOptions.timeout(Duration.ofSeconds(10)));
          closedAt = System.nanoTime();
        }
      } catch (Throwable e) {
        if (!stop) failure = e.toString();
      }
    }
  }

  static final Map<String, Group> groups = new LinkedHashMap<>();

  static Member startMember(Group g) {
    Member m;
    synchronized (g) {
      m = new Member(g, g.nextMember++);
      g.members.add(m);
      g.active.add(m.index);
      g.recheck(System.nanoTime());
    }
    m.thread.start();
    return m;
  }

  static void setup() throws Exception {
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(ap)) {
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
      // wait until the topic's metadata lists every partition
      long deadline = System.nanoTime() + 30_000_000_000L;
      for (;;) {
        try {
          int n = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
          if (n == partitions) break;
        } catch (ExecutionException e) {
          // not visible yet
        }
        if (System.nanoTime() > deadline) throw new IllegalStateException("topic " + topic + " not ready");
        Thread.sleep(100);
      }
    }
    String nonce = settings.getOrDefault("nonce", "x");
    int members = setting("members", 5);
    long timeoutMs = setting("timeoutMs", 60000);
    for (String proto : List.of("classic", "consumer")) {
      Group g = new Group(proto, "bench-" + proto + "-" + nonce);
      groups.put(proto, g);
      long t0 = System.nanoTime();
      for (int i = 0; i < members; i++) startMember(g);
      long t1 = g.awaitBalanced(t0, timeoutMs);
      emit("{\"ev\":\"phase\",\"phase\":\"setup\",\"proto\":" + q(proto) + ",\"t0\":" + t0 + ",\"t1\":" + t1
          + ",\"ms\":" + (t1 - t0) / 1e6 + "}");
    }
  }

  /** Waits settleMs, then checks the group is still balanced (no late rebalance). */
  static void settle(Group g, int settleMs) throws InterruptedException {
    Thread.sleep(settleMs);
    synchronized (g) {
      if (g.balancedAt < 0)
        g.awaitBalanced(System.nanoTime(), setting("timeoutMs", 60000));
    }
  }

  static void rep(int n) throws Exception {
    long timeoutMs = setting("timeoutMs", 60000);
    int settleMs = setting("settleMs", 300);
    for (Group g : groups.values()) {
      // join: a new member, from the start of its thread (KafkaConsumer construction included)
      Member m = startMember(g);
      while (m.startedAt < 0) Thread.sleep(1);
      long t0 = m.startedAt;
      long t1 = g.awaitBalanced(t0, timeoutMs);
      emit("{\"ev\":\"phase\",\"phase\":\"join\",\"proto\":" + q(g.proto) + ",\"rep\":" + n + ",\"t0\":" + t0
          + ",\"t1\":" + t1 + ",\"ms\":" + (t1 - t0) / 1e6 + "}");
      settle(g, settleMs);
      // leave: the oldest member closes (close() called from its own thread)
      Member old;
      synchronized (g) {
        int oldest = Integer.MAX_VALUE;
        for (int i : g.active) oldest = Math.min(oldest, i);
        old = null;
        for (Member x : g.members) if (x.index == oldest) old = x;
        g.active.remove(oldest);
        g.recheck(System.nanoTime());
      }
      old.stop = true;
      long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
      while (old.closeAt < 0) {
        if (System.nanoTime() > deadline) throw new IllegalStateException("member did not stop polling");
        Thread.sleep(1);
      }
      t0 = old.closeAt;
      t1 = g.awaitBalanced(t0, timeoutMs);
      old.thread.join(timeoutMs);
      emit("{\"ev\":\"phase\",\"phase\":\"leave\",\"proto\":" + q(g.proto) + ",\"rep\":" + n + ",\"t0\":" + t0
          + ",\"t1\":" + t1 + ",\"ms\":" + (t1 - t0) / 1e6 + ",\"closeMs\":"
          + (old.closedAt - old.closeAt) / 1e6 + "}");
      synchronized (g) {
        g.members.remove(old);
      }
      settle(g, settleMs);
    }
    for (String proto : groups.keySet()) commits(proto, n);
  }

  /** One consumer alone in a new group: warm-up, then sequential commitSync of one partition. */
  static void commits(String proto, int n) throws Exception {
    int count = setting("commits", 2000);
    int warmup = setting("warmup", 200);
    long timeoutMs = setting("timeoutMs", 60000);
    String id = "bench-commit-" + proto + "-" + settings.getOrDefault("nonce", "x") + "-" + n;
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(proto, id))) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
      while (c.assignment().isEmpty()) {
        if (System.nanoTime() > deadline) throw new IllegalStateException(proto + " commit member got no assignment");
        c.poll(Duration.ofMillis(50));
      }
      TopicPartition tp = c.assignment().stream().min((a, b) -> a.partition() - b.partition()).get();
      long[] lat = new long[count];
      for (int i = 0; i < warmup + count; i++) {
        long a = System.nanoTime();
        c.commitSync(Map.of(tp, new OffsetAndMetadata(i + 1)), Duration.ofSeconds(30));
        long b = System.nanoTime();
        if (i >= warmup) lat[i - warmup] = b - a;
      }
      long total = 0;
      for (long x : lat) total += x;
      Arrays.sort(lat);
      emit("{\"ev\":\"phase\",\"phase\":\"commit\",\"proto\":" + q(proto) + ",\"rep\":" + n + ",\"count\":" + count
          + ",\"p50Ms\":" + pct(lat, 0.50) / 1e6 + ",\"p99Ms\":" + pct(lat, 0.99) / 1e6 + ",\"p999Ms\":"
          + pct(lat, 0.999) / 1e6 + ",\"maxMs\":" + lat[count - 1] / 1e6 + ",\"meanMs\":" + total / 1e6 / count
          + "}");
    }
  }

  static long pct(long[] sorted, double p) {
    int i = (int) Math.ceil(p * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  static void quit() throws InterruptedException {
    for (Group g : groups.values()) for (Member m : g.members) m.stop = true;
    for (Group g : groups.values()) for (Member m : g.members) m.thread.join(15_000);
  }

  public static void main(String[] args) throws Exception {
    bootstrap = args[0];
    topic = args[1];
    partitions = Integer.parseInt(args[2]);
    if (args.length > 3 && !args[3].isEmpty())
      for (String kv : args[3].split(",")) {
        String[] p = kv.split("=", 2);
        settings.put(p[0], p[1]);
      }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null; ) {
      line = line.trim();
      if (line.isEmpty()) continue;
      String[] w = line.split("\\s+");
      try {
        switch (w[0]) {
          case "setup" -> setup();
          case "rep" -> rep(Integer.parseInt(w[1]));
          case "quit" -> {
            quit();
            emit("{\"ev\":\"done\",\"cmd\":\"quit\"}");
            System.exit(0);
          }
          default -> throw new IllegalArgumentException("unknown command " + line);
        }
        emit("{\"ev\":\"done\",\"cmd\":" + q(w[0]) + "}");
      } catch (Throwable e) {
        emit("{\"ev\":\"error\",\"cmd\":" + q(w[0]) + ",\"message\":" + q(e.toString()) + "}");
      }
    }
    quit();
    System.exit(0);
  }
}
