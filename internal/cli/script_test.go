package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"loadgate": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: exit codes,
// messages and files written, through the real command line. Each script
// gets its own target server in $TARGET.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			srv := newMixServer(time.Millisecond)
			env.Setenv("TARGET", srv.URL)
			env.Defer(srv.Close)
			scenarios, err := filepath.Abs(scenariosDir)
			if err != nil {
				return err
			}
			env.Setenv("SCENARIOS", scenarios)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exitcode N prog args...: run prog and require exit code N.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exitcode N program [args...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					code, ok := err.(interface{ ExitCode() int })
					if !ok {
						ts.Fatalf("run %s: %v", args[1], err)
					}
					got = code.ExitCode()
				}
				if got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
		},
	})
}
