package incident_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// TestMain lets a test re-run its own binary as a child process that
// appends events until it is killed.
func TestMain(m *testing.M) {
	switch os.Getenv("DRBOOK_INCIDENT_CHILD") {
	case "":
		os.Exit(m.Run())
	case "append":
		os.Exit(childAppend())
	case "run":
		os.Exit(childRun())
	default:
		os.Exit(2)
	}
}

func childOpen() (*incident.Store, *incident.Incident, error) {
	s, err := incident.OpenStore(os.Getenv("DRBOOK_CHILD_DIR"))
	if err != nil {
		return nil, nil, err
	}
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = "echo started; sleep 3; echo finished"
	in, err := incident.Open(ctx, s, os.Getenv("DRBOOK_CHILD_ID"), rb, incident.SystemClock{},
		incident.OpenOptions{Operator: incident.Operator{Name: "child"}})
	return s, in, err
}

// childAppend appends notes forever, printing each one after Note returns:
// a printed note is an acknowledged event.
func childAppend() int {
	_, in, err := childOpen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		text := fmt.Sprintf("pid %d note %d", os.Getpid(), i)
		if err := in.Note(text); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(w, "ack", text)
		w.Flush()
	}
}

// childRun runs a slow shell step and says when its output starts.
func childRun() int {
	_, in, err := childOpen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = in.RunStep(ctx, "assessment/scope", steps.Env{}, false, func(ev steps.Event) {
		if ev.Line == "started" {
			fmt.Println("started")
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("not killed")
	return 0
}

func startChild(t *testing.T, mode, dir, id string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DRBOOK_INCIDENT_CHILD="+mode, "DRBOOK_CHILD_DIR="+dir, "DRBOOK_CHILD_ID="+id)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	return cmd, bufio.NewScanner(out)
}

func TestSIGKILLLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	s, err := incident.OpenStore(dir)
	must(t, err)
	defer s.Close()
	in := MustDeclare(t, s, incident.SystemClock{}, incident.DeclareOptions{})
	acked := map[string]bool{}
	for round := 0; round < 4; round++ {
		cmd, sc := startChild(t, "append", dir, in.ID())
		got := make(chan string)
		go func() {
			for sc.Scan() {
				got <- sc.Text()
			}
			close(got)
		}()
		// Kill after a random number of acknowledged events, at a random
		// moment between appends.
		n := 5 + rand.IntN(60)
		for i := 0; i < n; i++ {
			line, ok := <-got
			if !ok {
				t.Fatal("child stopped early")
			}
			acked[strings.TrimPrefix(line, "ack ")] = true
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		for line := range got { // acknowledged before the kill landed
			acked[strings.TrimPrefix(line, "ack ")] = true
		}
		cmd.Wait()
	}
	res, err := s.Verify(ctx, in.ID())
	must(t, err)
	if !res.OK {
		t.Fatalf("chain broken after SIGKILL: %+v", res)
	}
	st, err := s.Load(ctx, in.ID())
	must(t, err)
	have := map[string]bool{}
	for _, n := range st.Notes {
		have[n.Text] = true
	}
	for text := range acked {
		if !have[text] {
			t.Errorf("acknowledged event lost: %q", text)
		}
	}
	if len(acked) < 20 {
		t.Errorf("only %d events acknowledged", len(acked))
	}
	t.Logf("%d acknowledged events across 4 kills, %d in the timeline", len(acked), len(st.Notes))
}

func TestResumeMarksKilledActionInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	s, err := incident.OpenStore(dir)
	must(t, err)
	defer s.Close()
	in := MustDeclare(t, s, incident.SystemClock{}, incident.DeclareOptions{Root: t.TempDir()})
	must(t, in.Note("before the crash"))
	cmd, sc := startChild(t, "run", dir, in.ID())
	if !sc.Scan() || sc.Text() != "started" {
		t.Fatalf("child: %q", sc.Text())
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	rb := testRunbook()
	in2, err := incident.Open(ctx, s, in.ID(), rb, incident.SystemClock{}, incident.OpenOptions{Operator: alice, Resume: true})
	must(t, err)
	st := in2.State()
	step := st.Step("assessment/scope")
	if step.Status != incident.StepInterrupted || step.Reason == "" {
		t.Errorf("step after resume: %s %q", step.Status, step.Reason)
	}
	if len(st.Runs) != 1 || st.Runs[0].Status != "interrupted" || st.Resumes != 1 || len(st.Notes) != 1 {
		t.Errorf("runs %+v resumes %d notes %d", st.Runs, st.Resumes, len(st.Notes))
	}
	// Resuming again records another resume but nothing new is interrupted
	// and nothing is re-run.
	in3, err := incident.Open(ctx, s, in.ID(), rb, incident.SystemClock{}, incident.OpenOptions{Operator: alice, Resume: true})
	must(t, err)
	got := kinds(t, s, in.ID())
	count := map[incident.Kind]int{}
	for _, k := range got {
		count[k]++
	}
	if count[incident.KindActionStarted] != 1 || count[incident.KindActionInterrupted] != 1 || count[incident.KindResumed] != 2 {
		t.Errorf("timeline: %v", got)
	}
	// The operator may run it again explicitly.
	must(t, in3.StartStep("assessment/scope"))
	if res, err := s.Verify(ctx, in.ID()); err != nil || !res.OK {
		t.Errorf("verify: %+v %v", res, err)
	}
}
