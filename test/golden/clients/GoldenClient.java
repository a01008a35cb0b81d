// Java kafka-clients driver for the golden-frame recorder (test/golden/record.ts).
// Usage: java GoldenClient <bootstrap> admin <topic> <partitions> <scratchTopic>
//        java GoldenClient <bootstrap> produce <topic> <compression> <recordsFile>
//        java GoldenClient <bootstrap> consume <topic> <expectedCount>
// recordsFile lines: key TAB value TAB timestampMs TAB headers ("\N" is null; headers are
// "k=v" pairs joined by ","). consume prints the records it read in the same format.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class GoldenClient {
  private static final String NULL = "\\N";

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String mode = args[1];
    switch (mode) {
      case "admin" -> admin(bootstrap, args[2], Integer.parseInt(args[3]), args[4]);
      case "produce" -> produce(bootstrap, args[2], args[3], Path.of(args[4]));
      case "consume" -> consume(bootstrap, args[2], Integer.parseInt(args[3]));
      default -> throw new IllegalArgumentException("unknown mode " + mode);
    }
  }

  private static Properties base(String bootstrap, String clientId) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("client.id", clientId);
    p.put("request.timeout.ms", "10000");
    p.put("default.api.timeout.ms", "20000");
    return p;
  }

  private static void admin(String bootstrap, String topic, int partitions, String scratch) throws Exception {
    try (Admin admin = Admin.create(base(bootstrap, "golden-java-admin"))) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
      Map<String, TopicDescription> d = admin.describeTopics(List.of(topic)).allTopicNames().get();
      int got = d.get(topic).partitions().size();
      if (got != partitions) throw new IllegalStateException("described " + got + " partitions");
      admin.createTopics(List.of(new NewTopic(scratch, 1, (short) 1))).all().get();
      admin.deleteTopics(List.of(scratch)).all().get();
      System.out.println("admin ok " + topic + " " + got);
    }
  }

  private static void produce(String bootstrap, String topic, String compression, Path file) throws Exception {
    Properties p = base(bootstrap, "golden-java-producer");
    p.put("enable.idempotence", "true");
    p.put("acks", "all");
    p.put("compression.type", compression);
    p.put("linger.ms", "200");
    p.put("batch.size", "1048576");
    p.put("key.serializer", StringSerializer.class.getName());
    p.put("value.serializer", StringSerializer.class.getName());
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      for (String line : lines) {
        if (line.isEmpty()) continue;
        String[] f = line.split("\t", -1);
        List<Header> headers = new ArrayList<>();
        if (!f[3].isEmpty()) {
          for (String kv : f[3].split(",")) {
            int eq = kv.indexOf('=');
            headers.add(new RecordHeader(kv.substring(0, eq), kv.substring(eq + 1).getBytes(StandardCharsets.UTF_8)));
          }
        }
        sent.add(producer.send(new ProducerRecord<>(topic, 0, Long.parseLong(f[2]), nul(f[0]), nul(f[1]), headers)));
      }
      producer.flush();
      for (var f : sent) f.get();
    }
    System.out.println("produce ok " + lines.size());
  }

  private static void consume(String bootstrap, String topic, int expected) {
    Properties p = base(bootstrap, "golden-java-consumer");
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", "earliest");
    p.put("key.deserializer", StringDeserializer.class.getName());
    p.put("value.deserializer", StringDeserializer.class.getName());
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      int count = 0;
      long deadline = System.currentTimeMillis() + 20000;
      StringBuilder out = new StringBuilder();
      while (count < expected && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          StringBuilder h = new StringBuilder();
          for (Header hd : r.headers()) {
            if (h.length() > 0) h.append(',');
            h.append(hd.key()).append('=').append(new String(hd.value(), StandardCharsets.UTF_8));
          }
          out.append(str(r.key())).append('\t').append(str(r.value())).append('\t').append(r.timestamp())
              .append('\t').append(h).append('\n');
          count++;
        }
      }
      System.out.print(out);
      if (count < expected) throw new IllegalStateException("consumed " + count + " of " + expected);
    }
  }

  private static String nul(String s) {
    return NULL.equals(s) ? null : s;
  }

  private static String str(String s) {
    return s == null ? NULL : s;
  }
}
