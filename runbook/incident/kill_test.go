package incident_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/all"
)

// TestMain lets a test re-run its own binary as a child process that
// appends events until it is killed.
func TestMain(m *testing.M) {
	all.Install(all.Options{}) // every action, as the composition root registers them
	switch os.Getenv("DRBOOK_INCIDENT_CHILD") {
	case "":
		os.Exit(m.Run())
	case "append":
		os.Exit(childAppend())
	case "run":
		os.Exit(childRun())
	case "readonly":
		os.Exit(childReadOnly())
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

// childReadOnly tries to record in a state database it may not write.
func childReadOnly() int {
	s, err := incident.OpenStore(os.Getenv("DRBOOK_CHILD_DIR"))
	if err == nil {
		_, err = incident.Declare(ctx, s, testRunbook(), incident.DeclareOptions{ID: "INC-RO"}, incident.NewManualClock(t0))
	}
	switch {
	case errors.Is(err, incident.ErrReadOnly):
		fmt.Println("read-only:", err)
		return 0
	case err == nil:
		fmt.Println("wrote to a read-only database")
	default:
		fmt.Println("other error:", err)
	}
	return 1
}

// TestReadOnlyStateDatabase runs, as an unprivileged user, a process that
// may read but not write the state database (root ignores permissions).
func TestReadOnlyStateDatabase(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the child as nobody; as a normal user TestOpenStoreRefusesBadFiles covers it")
	}
	base, err := os.MkdirTemp("", "drbook-ro-")
	must(t, err)
	defer os.RemoveAll(base)
	must(t, os.Chmod(base, 0o755))
	bin := filepath.Join(base, "incident.test")
	data, err := os.ReadFile(os.Args[0])
	must(t, err)
	must(t, os.WriteFile(bin, data, 0o755))
	dir := filepath.Join(base, "state")
	s, err := incident.OpenStore(dir)
	must(t, err)
	id := sixEvents(t, s)
	s.Close()
	must(t, os.Chmod(dir, 0o755))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		must(t, os.Chmod(f, 0o644))
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{"DRBOOK_INCIDENT_CHILD=readonly", "DRBOOK_CHILD_DIR=" + dir, "HOME=" + base}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("child: %s", out)
	if err != nil || !strings.HasPrefix(string(out), "read-only:") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s, err = incident.OpenStore(dir)
	must(t, err)
	defer s.Close()
	if res, err := s.Verify(ctx, id); err != nil || !res.OK || res.Events != 6 {
		t.Errorf("after the refused write: %+v %v", res, err)
	}
}

// TestResumeWhileTheActionStillRuns resumes an incident while the drbook
// process running its action is alive: the action is not interrupted.
func TestResumeWhileTheActionStillRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	s, err := incident.OpenStore(dir)
	must(t, err)
	defer s.Close()
	in := MustDeclare(t, s, incident.SystemClock{}, incident.DeclareOptions{Root: t.TempDir()})
	cmd, sc := startChild(t, "run", dir, in.ID())
	if !sc.Scan() || sc.Text() != "started" {
		t.Fatalf("child: %q", sc.Text())
	}
	in2, err := incident.Open(ctx, s, in.ID(), testRunbook(), incident.SystemClock{}, incident.OpenOptions{Resume: true})
	must(t, err)
	if got := in2.State().Step("assessment/scope").Status; got != incident.StepRunning {
		t.Errorf("resumed while the child runs it: %s, want running", got)
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	in3, err := incident.Open(ctx, s, in.ID(), testRunbook(), incident.SystemClock{}, incident.OpenOptions{Resume: true})
	must(t, err)
	if got := in3.State().Step("assessment/scope").Status; got != incident.StepInterrupted {
		t.Errorf("resumed after the child died: %s, want interrupted", got)
	}
}
