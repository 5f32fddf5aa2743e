package store

import "testing"

// TestCmpsKey: different guard lists never share a name, whatever bytes keys hold.
func TestCmpsKey(t *testing.T) {
	lists := [][]Cmp{
		{{Key: "a", ModRevision: 5}, {Key: "b", ModRevision: 7}},
		{{Key: "a\x005\x00b", ModRevision: 7}},
		{{Key: "a:5;1:b", ModRevision: 7}},
		{{Key: "a", ModRevision: 57}},
		{{Key: "a5", ModRevision: 7}},
		{{Key: "b", ModRevision: 7}, {Key: "a", ModRevision: 5}},
		{},
	}
	seen := map[string]int{}
	for i, l := range lists {
		k := cmpsKey(l)
		if j, dup := seen[k]; dup {
			t.Fatalf("lists %d and %d share the name %q", j, i, k)
		}
		seen[k] = i
	}
}
