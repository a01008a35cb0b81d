import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Java kafka-clients driver of the client compatibility suite (test/clients). Prints one JSON
 * object on stdout per run. Record files hold one record per line:
 * offset TAB key TAB value TAB timestamp TAB headers, key/value base64 or "-" for null, headers
 * "b64key:b64value" joined by ",". Produce input files have offset "-".
 *
 * <pre>
 *   produce  BOOTSTRAP TOPIC CODEC FILE [producer.config=value ...]
 *   consume  BOOTSTRAP TOPIC PARTITION COUNT OUTFILE [consumer.config=value ...] [seek=OFFSET]
 *   offsets  BOOTSTRAP TOPIC PARTITION TS[,TS...]
 *   admin    BOOTSTRAP TOPIC
 *   create         BOOTSTRAP TOPIC PARTITIONS
 *   produce-keyed  BOOTSTRAP TOPIC ACKS FILE     (default partitioner; idempotent only with acks=all)
 *   consume-all    BOOTSTRAP TOPIC COUNT OUTFILE (every partition; a 6th column: the partition)
 *   too-large      BOOTSTRAP TOPIC BYTES         (one record of BYTES bytes; prints the error)
 *   delete-records BOOTSTRAP TOPIC PARTITION OFFSET
 * </pre>
 */
public final class ClientsDriver {
  private static final Base64.Encoder B64 = Base64.getEncoder();
  private static final Base64.Decoder UNB64 = Base64.getDecoder();

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    String bootstrap = args[1];
    switch (mode) {
      case "produce" ->
          produce(bootstrap, args[2], args[3], Path.of(args[4]), java.util.Arrays.copyOfRange(args, 5, args.length));
      case "consume" ->
          consume(
              bootstrap,
              args[2],
              Integer.parseInt(args[3]),
              Integer.parseInt(args[4]),
              Path.of(args[5]),
              java.util.Arrays.copyOfRange(args, 6, args.length));
      case "offsets" -> offsets(bootstrap, args[2], Integer.parseInt(args[3]), args[4]);
      case "admin" -> admin(bootstrap, args[2]);
      case "create" -> create(bootstrap, args[2], Integer.parseInt(args[3]));
      case "produce-keyed" -> produceKeyed(bootstrap, args[2], args[3], Path.of(args[4]));
      case "consume-all" -> consumeAll(bootstrap, args[2], Integer.parseInt(args[3]), Path.of(args[4]));
      case "too-large" -> tooLarge(bootstrap, args[2], Integer.parseInt(args[3]));
      case "delete-records" ->
          deleteRecords(bootstrap, args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]));
      default -> throw new IllegalArgumentException("unknown mode " + mode);
    }
  }

  private static byte[] field(String s) {
    return s.equals("-") ? null : UNB64.decode(s);
  }

  private static String b64(byte[] b) {
    return b == null ? "-" : B64.encodeToString(b);
  }

  private static ProducerRecord<byte[], byte[]> parse(String line, String topic, Integer partition) {
    String[] f = line.split("\t", -1);
    List<Header> headers = new ArrayList<>();
    if (!f[4].isEmpty()) {
      for (String h : f[4].split(",")) {
        String[] kv = h.split(":", -1);
        headers.add(new RecordHeader(new String(UNB64.decode(kv[0]), StandardCharsets.UTF_8), field(kv[1])));
      }
    }
    return new ProducerRecord<>(topic, partition, Long.parseLong(f[3]), field(f[1]), field(f[2]), headers);
  }

  private static void produceKeyed(String bootstrap, String topic, String acks, Path file) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, acks);
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, String.valueOf(acks.equals("all")));
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    List<String> lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
    AtomicReference<Exception> error = new AtomicReference<>();
    int[] partitions = new int[lines.size()];
    long[] offsets = new long[lines.size()];
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < lines.size(); i++) {
        final int index = i;
        producer.send(
            parse(lines.get(i), topic, null),
            (md, ex) -> {
              if (ex != null) error.compareAndSet(null, ex);
              else {
                partitions[index] = md.partition();
                offsets[index] = md.offset();
              }
            });
      }
      producer.flush();
    }
    if (error.get() != null) throw error.get();
    StringBuilder sb = new StringBuilder("{\"partitions\":[");
    for (int i = 0; i < partitions.length; i++) sb.append(i == 0 ? "" : ",").append(partitions[i]);
    sb.append("],\"offsets\":[");
    for (int i = 0; i < offsets.length; i++) sb.append(i == 0 ? "" : ",").append(offsets[i]);
    System.out.println(sb.append("]}"));
  }

  private static void consumeAll(String bootstrap, String topic, int count, Path out) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    int n = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap));
        BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.US_ASCII)) {
      List<TopicPartition> tps = new ArrayList<>();
      consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      while (n < count && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          StringBuilder hs = new StringBuilder();
          for (Header h : r.headers()) {
            if (hs.length() > 0) hs.append(',');
            hs.append(B64.encodeToString(h.key().getBytes(StandardCharsets.UTF_8))).append(':').append(b64(h.value()));
          }
          w.write(r.offset() + "\t" + b64(r.key()) + "\t" + b64(r.value()) + "\t" + r.timestamp() + "\t" + hs + "\t" + r.partition() + "\n");
          n++;
        }
      }
    }
    System.out.println("{\"consumed\":" + n + "}");
  }

  private static void tooLarge(String bootstrap, String topic, int bytes) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    // Let the record reach the broker: the client-side limits are raised above it.
    p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(bytes * 2 + 100000));
    p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, String.valueOf(bytes * 4L + 1000000));
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    String error = null;
    long offset = -1;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      byte[] value = new byte[bytes];
      for (int i = 0; i < bytes; i++) value[i] = (byte) (i * 31 + 7);
      try {
        offset = producer.send(new ProducerRecord<>(topic, 0, null, value)).get(60, TimeUnit.SECONDS).offset();
      } catch (java.util.concurrent.ExecutionException e) {
        error = e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage();
      }
      // The producer still works after the refusal.
      long next = producer.send(new ProducerRecord<>(topic, 0, null, new byte[] {1, 2, 3})).get(60, TimeUnit.SECONDS).offset();
      System.out.println("{\"offset\":" + offset + ",\"error\":" + json(error) + ",\"nextOffset\":" + next + "}");
    }
  }

  private static void deleteRecords(String bootstrap, String topic, int partition, long before) throws Exception {
    TopicPartition tp = new TopicPartition(topic, partition);
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(ap)) {
      long low =
          admin
              .deleteRecords(Map.of(tp, org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(before)))
              .lowWatermarks()
              .get(tp)
              .get(30, TimeUnit.SECONDS)
              .lowWatermark();
      long earliest =
          admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get(30, TimeUnit.SECONDS).offset();
      long first = -1;
      try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (first < 0 && System.nanoTime() < deadline) {
          for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
            first = r.offset();
            break;
          }
        }
      }
      System.out.println("{\"lowWatermark\":" + low + ",\"earliest\":" + earliest + ",\"firstConsumed\":" + first + "}");
    }
  }

  private static void produce(String bootstrap, String topic, String codec, Path file, String[] extra)
      throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
    // acks=all and enable.idempotence=true are the defaults: left unset on purpose.
    for (String kv : extra) {
      int eq = kv.indexOf('=');
      p.put(kv.substring(0, eq), kv.substring(eq + 1));
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
    AtomicReference<Exception> error = new AtomicReference<>();
    AtomicLong acked = new AtomicLong();
    long[] offsets = new long[lines.size()];
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < lines.size(); i++) {
        String[] f = lines.get(i).split("\t", -1);
        List<Header> headers = new ArrayList<>();
        if (!f[4].isEmpty()) {
          for (String h : f[4].split(",")) {
            String[] kv = h.split(":", -1);
            headers.add(new RecordHeader(new String(UNB64.decode(kv[0]), StandardCharsets.UTF_8), field(kv[1])));
          }
        }
        ProducerRecord<byte[], byte[]> r =
            new ProducerRecord<>(topic, 0, Long.parseLong(f[3]), field(f[1]), field(f[2]), headers);
        final int index = i;
        producer.send(
            r,
            (md, ex) -> {
              if (ex != null) error.compareAndSet(null, ex);
              else {
                offsets[index] = md.offset();
                acked.incrementAndGet();
              }
            });
      }
      producer.flush();
    }
    if (error.get() != null) throw error.get();
    StringBuilder sb = new StringBuilder("{\"acked\":").append(acked.get()).append(",\"offsets\":[");
    for (int i = 0; i < offsets.length; i++) sb.append(i == 0 ? "" : ",").append(offsets[i]);
    System.out.println(sb.append("]}"));
  }

  private static Properties consumerProps(String bootstrap) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.CHECK_CRCS_CONFIG, "true");
    return p;
  }

  private static void consume(String bootstrap, String topic, int partition, int count, Path out, String[] extra)
      throws Exception {
    TopicPartition tp = new TopicPartition(topic, partition);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    int n = 0;
    Properties props = consumerProps(bootstrap);
    long seek = -1;
    for (String kv : extra) {
      int eq = kv.indexOf('=');
      // "seek=N" is the driver's own: start at offset N instead of the beginning.
      if (kv.startsWith("seek=")) seek = Long.parseLong(kv.substring(eq + 1));
      else props.put(kv.substring(0, eq), kv.substring(eq + 1));
    }
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props);
        BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.US_ASCII)) {
      consumer.assign(List.of(tp));
      if (seek >= 0) consumer.seek(tp, seek);
      else consumer.seekToBeginning(List.of(tp));
      while (n < count && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          StringBuilder hs = new StringBuilder();
          for (Header h : r.headers()) {
            if (hs.length() > 0) hs.append(',');
            hs.append(B64.encodeToString(h.key().getBytes(StandardCharsets.UTF_8))).append(':').append(b64(h.value()));
          }
          w.write(r.offset() + "\t" + b64(r.key()) + "\t" + b64(r.value()) + "\t" + r.timestamp() + "\t" + hs + "\n");
          n++;
        }
      }
    }
    System.out.println("{\"consumed\":" + n + "}");
  }

  private static String offsetJson(Long offset, Long ts) {
    return "[" + offset + "," + ts + "]";
  }

  private static void offsets(String bootstrap, String topic, int partition, String tsList) throws Exception {
    TopicPartition tp = new TopicPartition(topic, partition);
    List<Long> targets = new ArrayList<>();
    for (String t : tsList.split(",")) targets.add(Long.parseLong(t));
    StringBuilder sb = new StringBuilder("{");
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(ap)) {
      ListOffsetsResult.ListOffsetsResultInfo e =
          admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get(30, TimeUnit.SECONDS);
      ListOffsetsResult.ListOffsetsResultInfo l =
          admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get(30, TimeUnit.SECONDS);
      ListOffsetsResult.ListOffsetsResultInfo m =
          admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get(30, TimeUnit.SECONDS);
      sb.append("\"earliest\":").append(e.offset()).append(",\"latest\":").append(l.offset());
      sb.append(",\"maxTimestamp\":").append(offsetJson(m.offset(), m.timestamp()));
      sb.append(",\"adminByTime\":[");
      for (int i = 0; i < targets.size(); i++) {
        ListOffsetsResult.ListOffsetsResultInfo r =
            admin
                .listOffsets(Map.of(tp, OffsetSpec.forTimestamp(targets.get(i))))
                .partitionResult(tp)
                .get(30, TimeUnit.SECONDS);
        // Kafka answers "no such record" with offset -1 (UNKNOWN_OFFSET).
        Long off = r.offset() < 0 ? null : r.offset();
        Long ts = r.offset() < 0 ? null : r.timestamp();
        sb.append(i == 0 ? "" : ",").append(offsetJson(off, ts));
      }
      sb.append("]");
    }
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
      Map<TopicPartition, Long> b = consumer.beginningOffsets(List.of(tp), Duration.ofSeconds(30));
      Map<TopicPartition, Long> en = consumer.endOffsets(List.of(tp), Duration.ofSeconds(30));
      sb.append(",\"consumerBeginning\":").append(b.get(tp)).append(",\"consumerEnd\":").append(en.get(tp));
      sb.append(",\"consumerByTime\":[");
      for (int i = 0; i < targets.size(); i++) {
        Map<TopicPartition, OffsetAndTimestamp> r =
            consumer.offsetsForTimes(Map.of(tp, targets.get(i)), Duration.ofSeconds(30));
        OffsetAndTimestamp ot = r.get(tp);
        sb.append(i == 0 ? "" : ",")
            .append(ot == null ? offsetJson(null, null) : offsetJson(ot.offset(), ot.timestamp()));
      }
      sb.append("]");
    }
    System.out.println(sb.append("}"));
  }

  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') sb.append('\\').append(c);
      else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
      else sb.append(c);
    }
    return sb.append('"').toString();
  }

  private static String configsJson(Admin admin, String topic) throws Exception {
    ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    Config cfg = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res);
    Map<String, ConfigEntry> sorted = new TreeMap<>();
    for (ConfigEntry e : cfg.entries()) sorted.put(e.name(), e);
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (ConfigEntry e : sorted.values()) {
      sb.append(first ? "" : ",").append(json(e.name())).append(":{\"value\":").append(json(e.value()));
      sb.append(",\"source\":").append(json(e.source().name())).append(",\"readOnly\":").append(e.isReadOnly()).append("}");
      first = false;
    }
    return sb.append("}").toString();
  }

  private static int partitionCount(Admin admin, String topic) throws Exception {
    return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic).partitions().size();
  }

  private static void create(String bootstrap, String topic, int partitions) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
      System.out.println("{\"partitions\":" + partitionCount(admin, topic) + "}");
    }
  }

  private static void admin(String bootstrap, String topic) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    StringBuilder sb = new StringBuilder("{");
    try (Admin admin = Admin.create(p)) {
      Map<String, String> configs = new HashMap<>();
      configs.put("retention.ms", "3600000");
      configs.put("max.message.bytes", "2000000");
      configs.put("cleanup.policy", "delete");
      admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1).configs(configs))).all().get(30, TimeUnit.SECONDS);
      sb.append("\"partitionsAfterCreate\":").append(partitionCount(admin, topic));
      sb.append(",\"configsAfterCreate\":").append(configsJson(admin, topic));

      ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
      Map<ConfigResource, Collection<AlterConfigOp>> ops = new HashMap<>();
      ops.put(
          res,
          List.of(
              new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
              new AlterConfigOp(new ConfigEntry("retention.bytes", "1048576"), AlterConfigOp.OpType.SET),
              new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE)));
      admin.incrementalAlterConfigs(ops).all().get(30, TimeUnit.SECONDS);
      sb.append(",\"configsAfterIncremental\":").append(configsJson(admin, topic));

      admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get(30, TimeUnit.SECONDS);
      sb.append(",\"partitionsAfterCreatePartitions\":").append(partitionCount(admin, topic));

      admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
      Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      sb.append(",\"existsAfterDelete\":").append(names.contains(topic));
    }
    System.out.println(sb.append("}"));
  }
}
