import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.util.Properties;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A Java KafkaProducer with its defaults (idempotence on, acks=all, retries) for the SIGKILL
 * suite (test/broker/sigkill.test.ts). Sends unique values round-robin over the partitions until
 * its stdin closes, then flushes and closes. Prints one line per record on completion:
 * "ACK <partition> <offset> <value>" or "ERR <partition> <value> <exception>", then "DONE".
 *
 * Run with the single-file launcher: java -cp 'tools/.cache/java/*' CrashProducer.java
 * <bootstrap> <topic> <partitions> <tag>
 */
public class CrashProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int partitions = Integer.parseInt(args[2]);
    String tag = args[3];
    PrintStream out = new PrintStream(System.out, false, "UTF-8");
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("client.id", "robust-java-" + tag);
    p.put("key.serializer", StringSerializer.class.getName());
    p.put("value.serializer", StringSerializer.class.getName());
    p.put("linger.ms", "5");
    p.put("request.timeout.ms", "10000");
    p.put("delivery.timeout.ms", "90000");
    p.put("reconnect.backoff.max.ms", "500");
    p.put("retry.backoff.max.ms", "500");
    AtomicBoolean stop = new AtomicBoolean(false);
    Thread stdin =
        new Thread(
            () -> {
              try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in))) {
                while (r.readLine() != null) {}
              } catch (Exception e) {
                // treat as closed
              }
              stop.set(true);
            });
    stdin.setDaemon(true);
    stdin.start();
    // At most this many records not yet completed.
    Semaphore window = new Semaphore(2000);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      long seq = 0;
      while (!stop.get()) {
        if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) continue;
        int partition = (int) (seq % partitions);
        String value = tag + "-" + seq;
        seq++;
        producer.send(
            new ProducerRecord<>(topic, partition, null, value),
            (meta, err) -> {
              synchronized (out) {
                if (err == null) out.println("ACK " + meta.partition() + " " + meta.offset() + " " + value);
                else out.println("ERR " + partition + " " + value + " " + err.getClass().getSimpleName());
              }
              window.release();
            });
      }
      producer.flush();
    }
    synchronized (out) {
      out.println("DONE");
      out.flush();
    }
  }
}
