package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcFields reads the "Name: value ..." lines of /proc/<pid>/<file> (status,
// smaps_rollup) as numbers (kB for memory); empty when the file cannot be read.
func ProcFields(pid int, file string) map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			out[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return out
}
