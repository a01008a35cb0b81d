// A franz-go (github.com/twmb/franz-go/pkg/kgo) group member for the broker's group tests,
// the Go counterpart of ../GroupMember.java. Prints one line per event on stdout:
//
//	assigned <p,p,…> | revoked <p,…> | lost <p,…> | rec <partition> <offset> <value> | closed
//
// "assigned" carries the member's whole assignment after the callback (franz-go hands the
// callback only what is new; it calls it after every rebalance, even with nothing new).
// It also prints "protocol consumer" the first time it writes a ConsumerGroupHeartbeat
// (key 68, the KIP-848 path) and "protocol classic" the first time it writes a JoinGroup
// (key 11), so a test can tell which group protocol the client really used.
//
// Auto commit is off; offsets are committed synchronously after every non-empty poll and in
// OnPartitionsRevoked. BlockRebalanceOnPoll keeps the rebalance callbacks out of the span
// between a poll and its commit, so a clean handoff delivers nothing twice. Reads "stop" (or
// EOF) on stdin: commits, leaves the group (Close), prints "closed". franz-go logs to stderr at
// warn level (FRANZ_MEMBER_LOG=debug|info|error to change it).
//
// Usage: franz-member <bootstrap> <group> <topic|re:pattern> <range|cooperative-sticky> <classic|consumer> [instanceId]
//
// With "re:<pattern>" the member subscribes to every topic matching the pattern and names
// partitions "<topic>:<partition>" in its lines.
//
// Mode "consumer" opts in to KIP-848. franz-go 1.22.2 takes that path when the client's
// context carries "opt_in_kafka_next_gen_balancer_beta" (the beta opt-in) or the group is
// configured with ServerSideBalancer (its documented option), the first balancer is range or
// (cooperative-)sticky, and the broker advertises ConsumerGroupHeartbeat v1+; a broker that
// answers the first heartbeat with UNSUPPORTED_VERSION sends it back to the classic protocol
// (then both "protocol" lines appear). Classic mode: 6 s session timeout, 300 ms heartbeats.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var outMu sync.Mutex

func out(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func errf(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// protocolHook reports the first request that identifies the group protocol in use.
type protocolHook struct {
	consumer atomic.Bool
	classic  atomic.Bool
}

func (h *protocolHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	switch key {
	case 68: // ConsumerGroupHeartbeat
		if h.consumer.CompareAndSwap(false, true) {
			out("protocol consumer")
		}
	case 11: // JoinGroup
		if h.classic.CompareAndSwap(false, true) {
			out("protocol classic")
		}
	}
}

// tp is one assigned partition.
type tp struct {
	topic     string
	partition int32
}

// assignment is the member's current partition set. With one topic the lines name
// partitions ("3"); with a regex subscription they name topic and partition ("t:3").
type assignment struct {
	mu    sync.Mutex
	regex bool
	ps    map[tp]bool
}

func (a *assignment) list(tps []tp) string {
	s := slices.Clone(tps)
	slices.SortFunc(s, func(x, y tp) int {
		if c := strings.Compare(x.topic, y.topic); c != 0 {
			return c
		}
		return int(x.partition) - int(y.partition)
	})
	b := make([]string, len(s))
	for i, t := range s {
		b[i] = a.name(t.topic, t.partition)
	}
	return strings.Join(b, ",")
}

func (a *assignment) name(topic string, partition int32) string {
	if a.regex {
		return topic + ":" + strconv.Itoa(int(partition))
	}
	return strconv.Itoa(int(partition))
}

func flatten(m map[string][]int32) []tp {
	var out []tp
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, tp{t, p})
		}
	}
	return out
}

func (a *assignment) add(m map[string][]int32) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range flatten(m) {
		a.ps[t] = true
	}
	all := make([]tp, 0, len(a.ps))
	for t := range a.ps {
		all = append(all, t)
	}
	return a.list(all)
}

func (a *assignment) remove(m map[string][]int32) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	gone := flatten(m)
	for _, t := range gone {
		delete(a.ps, t)
	}
	return a.list(gone)
}

// logLevel is franz-go's log level on stderr: warn, or FRANZ_MEMBER_LOG (debug|info|warn|error).
func logLevel() kgo.LogLevel {
	switch os.Getenv("FRANZ_MEMBER_LOG") {
	case "debug":
		return kgo.LogLevelDebug
	case "info":
		return kgo.LogLevelInfo
	case "error":
		return kgo.LogLevelError
	}
	return kgo.LogLevelWarn
}

func main() {
	if len(os.Args) < 6 {
		errf("usage: franz-member <bootstrap> <group> <topic|re:pattern> <range|cooperative-sticky> <classic|consumer> [instanceId]")
		os.Exit(2)
	}
	bootstrap, group, topic, balancerName, mode := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	var balancer kgo.GroupBalancer
	switch balancerName {
	case "range":
		balancer = kgo.RangeBalancer()
	case "cooperative-sticky":
		balancer = kgo.CooperativeStickyBalancer()
	default:
		errf("unknown balancer %q (range|cooperative-sticky)", balancerName)
		os.Exit(2)
	}
	if mode != "classic" && mode != "consumer" {
		errf("unknown mode %q (classic|consumer)", mode)
		os.Exit(2)
	}

	// A topic "re:<pattern>" subscribes to every topic the pattern matches (franz-go's
	// ConsumeRegex; in KIP-848 mode the broker resolves it, SubscribedTopicRegex).
	pattern, regex := strings.CutPrefix(topic, "re:")
	a := &assignment{regex: regex, ps: map[tp]bool{}}
	hook := &protocolHook{}
	clientCtx := context.Background()
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID("franz-member"),
		kgo.ConsumerGroup(group),
		kgo.Balancers(balancer),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RebalanceTimeout(20 * time.Second),
		kgo.WithHooks(hook),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, logLevel(), func() string { return "franz: " })),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out("assigned %s", a.add(m))
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			// Called at the end of every session (eager) or for what is taken away
			// (cooperative, KIP-848), and on leave: commit what was processed first.
			if len(flatten(m)) > 0 {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					errf("commit on revoke: %v", err)
				}
			}
			out("revoked %s", a.remove(m))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out("lost %s", a.remove(m))
		}),
	}
	if regex {
		opts = append(opts, kgo.ConsumeTopics(pattern), kgo.ConsumeRegex())
	} else {
		opts = append(opts, kgo.ConsumeTopics(topic))
	}
	if mode == "classic" {
		opts = append(opts, kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
	} else {
		// The broker owns the session timeout and heartbeat interval in KIP-848 groups.
		clientCtx = context.WithValue(clientCtx, "opt_in_kafka_next_gen_balancer_beta", true) // franz-go looks up this string key
		opts = append(opts, kgo.WithContext(clientCtx), kgo.ServerSideBalancer())
	}
	if len(os.Args) > 6 {
		opts = append(opts, kgo.InstanceID(os.Args[6]))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		errf("new client: %v", err)
		os.Exit(1)
	}

	stopCtx, stop := context.WithCancel(context.Background())
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "stop" {
				break
			}
		}
		stop() // "stop" or stdin gone
	}()

	for stopCtx.Err() == nil {
		pollCtx, cancel := context.WithTimeout(stopCtx, 200*time.Millisecond)
		fetches := cl.PollRecords(pollCtx, 1000)
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded && err != context.Canceled {
				errf("fetch %s[%d]: %v", t, p, err)
			}
		})
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			out("rec %s %d %s", a.name(r.Topic, r.Partition), r.Offset, r.Value)
			n++
		})
		if n > 0 {
			if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
				errf("commit: %v", err)
			}
		}
		cl.AllowRebalance()
	}
	commitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := cl.CommitUncommittedOffsets(commitCtx); err != nil {
		errf("final commit: %v", err)
	}
	cancel()
	cl.AllowRebalance()
	// Leave (OnPartitionsRevoked commits): LeaveGroup for a classic dynamic member (none for a
	// static one), a ConsumerGroupHeartbeat with epoch -1 (dynamic) or -2 (static) for KIP-848.
	leaveCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := cl.LeaveGroupContext(leaveCtx); err != nil {
		errf("leave: %v", err)
	}
	cancel()
	cl.Close()
	out("closed")
}
