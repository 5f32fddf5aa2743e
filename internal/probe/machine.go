package probe

// machine is the health state of one check, fed one probe outcome at a time.
//
//   - It starts healthy, with nothing reported.
//   - Retry consecutive losses make it unhealthy.
//   - One success makes it healthy again.
//   - The first verdict is always reported (healthy on the first success, or unhealthy
//     after Retry losses from the start); after that, only transitions are.
type machine struct {
	retry    int
	healthy  bool
	reported bool // a verdict has been reported
	losses   int  // consecutive losses
}

func newMachine(retry int) machine {
	if retry < 1 {
		retry = 1
	}
	return machine{retry: retry, healthy: true}
}

// observe records one probe outcome and reports whether it produced a verdict to report
// (m.healthy is the verdict).
func (m *machine) observe(ok bool) bool {
	if ok {
		m.losses = 0
		if !m.healthy || !m.reported {
			m.healthy, m.reported = true, true
			return true
		}
		return false
	}
	m.losses++
	if m.losses >= m.retry && (m.healthy || !m.reported) {
		m.healthy, m.reported = false, true
		return true
	}
	return false
}
