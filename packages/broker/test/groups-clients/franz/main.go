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
// Usage: franz-member <bootstrap> <group> <topic> <range|cooperative-sticky> <classic|consumer> [instanceId]
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

// assignment is the member's current partition set of the one topic it consumes.
type assignment struct {
	mu sync.Mutex
	ps map[int32]bool
}

func list(ps []int32) string {
	s := slices.Clone(ps)
	slices.Sort(s)
	b := make([]string, len(s))
	for i, p := range s {
		b[i] = strconv.Itoa(int(p))
	}
	return strings.Join(b, ",")
}

func (a *assignment) add(ps []int32) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		a.ps[p] = true
	}
	return a.current()
}

func (a *assignment) remove(ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		delete(a.ps, p)
	}
}

func (a *assignment) current() string {
	all := make([]int32, 0, len(a.ps))
	for p := range a.ps {
		all = append(all, p)
	}
	return list(all)
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
		errf("usage: franz-member <bootstrap> <group> <topic> <range|cooperative-sticky> <classic|consumer> [instanceId]")
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

	a := &assignment{ps: map[int32]bool{}}
	hook := &protocolHook{}
	clientCtx := context.Background()
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID("franz-member"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(balancer),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RebalanceTimeout(20 * time.Second),
		kgo.WithHooks(hook),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, logLevel(), func() string { return "franz: " })),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out("assigned %s", a.add(m[topic]))
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			// Called at the end of every session (eager) or for what is taken away
			// (cooperative, KIP-848), and on leave: commit what was processed first.
			if len(m[topic]) > 0 {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					errf("commit on revoke: %v", err)
				}
			}
			a.remove(m[topic])
			out("revoked %s", list(m[topic]))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.remove(m[topic])
			out("lost %s", list(m[topic]))
		}),
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
			out("rec %d %d %s", r.Partition, r.Offset, r.Value)
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
