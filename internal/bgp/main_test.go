package bgp

import (
	"os"
	"testing"
)

// speakerEnv marks a re-executed test binary that is to run a speaker: StartSpeaker runs
// `<binary> bgp-speaker --socket PATH` inside the router namespace, and in the tests the
// binary is the test binary itself (os.Executable), so it behaves like `opencen
// bgp-speaker`.
const speakerEnv = "OPENCEN_BGP_TEST_SPEAKER"

func TestMain(m *testing.M) {
	if os.Getenv(speakerEnv) == "1" && len(os.Args) > 1 && os.Args[1] == Subcommand {
		os.Exit(Main(os.Args[2:]))
	}
	os.Setenv(speakerEnv, "1") // inherited by the speakers the tests start
	os.Exit(m.Run())
}
