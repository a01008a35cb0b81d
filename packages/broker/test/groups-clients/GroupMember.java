// A Java KafkaConsumer group member for the broker's group tests. Prints one line per event:
//   assigned <p,p,…> | revoked <p,…> | lost <p,…> | rec <partition> <offset> <value> | closed
// Commits synchronously after every poll and in onPartitionsRevoked (no auto commit), so a
// clean handoff delivers nothing twice. Reads "stop" on stdin: commits, closes (LeaveGroup).
// Usage: java GroupMember <bootstrap> <group> <topic> <assignor> <sessionTimeoutMs> [instanceId]
// assignor: range | cooperative-sticky (classic protocol, client-side assignment), or
// consumer-uniform | consumer-range (KIP-848: group.protocol=consumer with that server-side
// assignor; the session timeout is then the broker's, and the argument is ignored).
// topic: a name, or re:<regex> to subscribe by pattern: with consumer-* a SubscriptionPattern
// (KIP-848: the broker resolves it), with the classic protocol a java.util.regex.Pattern.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.StringDeserializer;

public class GroupMember {
  static synchronized void out(String s) {
    System.out.println(s);
    System.out.flush();
  }

  static String parts(Collection<TopicPartition> ps) {
    List<Integer> l = new ArrayList<>();
    for (TopicPartition p : ps) l.add(p.partition());
    l.sort(null);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < l.size(); i++) {
      if (i > 0) b.append(',');
      b.append(l.get(i));
    }
    return b.toString();
  }

  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, args[1]);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-member");
    if (args[3].startsWith("consumer-")) {
      p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
      p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, args[3].substring("consumer-".length()));
    } else {
      String assignor = args[3].equals("range")
          ? "org.apache.kafka.clients.consumer.RangeAssignor"
          : "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
      p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignor);
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, args[4]);
      p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
    }
    p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "20000");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "200");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    if (args.length > 5) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, args[5]);
    AtomicBoolean stop = new AtomicBoolean(false);
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
        String line;
        while ((line = in.readLine()) != null) if (line.trim().equals("stop")) break;
      } catch (Exception e) {
        // stdin gone: stop too
      }
      stop.set(true);
    });
    reader.setDaemon(true);
    reader.start();
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
      ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
        public void onPartitionsRevoked(Collection<TopicPartition> ps) {
          if (!ps.isEmpty()) c.commitSync();
          out("revoked " + parts(ps));
        }
        public void onPartitionsAssigned(Collection<TopicPartition> ps) {
          out("assigned " + parts(c.assignment()));
        }
        public void onPartitionsLost(Collection<TopicPartition> ps) {
          out("lost " + parts(ps));
        }
      };
      if (args[2].startsWith("re:") && args[3].startsWith("consumer-"))
        c.subscribe(new SubscriptionPattern(args[2].substring(3)), listener);
      else if (args[2].startsWith("re:")) c.subscribe(Pattern.compile(args[2].substring(3)), listener);
      else c.subscribe(List.of(args[2]), listener);
      boolean pending = false;
      while (!stop.get()) {
        ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(200));
        for (ConsumerRecord<String, String> r : rs) out("rec " + r.partition() + " " + r.offset() + " " + r.value());
        if (!rs.isEmpty() || pending) {
          // A rebalance may start between poll() and the commit (a heartbeat asked the member
          // to rejoin): the commit is retried after the next poll, as applications do.
          try {
            c.commitSync();
            pending = false;
          } catch (RebalanceInProgressException e) {
            pending = true;
            out("commit-retry");
          }
        }
      }
      c.commitSync();
    }
    out("closed");
  }
}
