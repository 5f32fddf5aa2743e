package contract

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/secret"
	"opencen/internal/store/etcdtest"
	"opencen/internal/testserver"
)

// TestClusterOnEtcd: two server processes on one etcd, through every stock client style.
// A CEN created through server 1 is read through server 2; a ClientToken retry on server 2
// returns server 1's result; a request the SDK signed once, sent to both servers, succeeds
// once and is refused once with SignatureNonceUsed.
func TestClusterOnEtcd(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if _, err := secret.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	args := []string{"--store", "etcd", "--etcd-endpoints", etcd.Endpoint, "--etcd-prefix", "/contract/", "--secret-key-file", keyFile, "--gateway", "off"}
	one := testserver.Start(t, testserver.Options{TransitionDelay: 100 * time.Millisecond, Args: args})
	two := testserver.Start(t, testserver.Options{TransitionDelay: 100 * time.Millisecond, Args: args, AdminKeyID: one.AdminKeyID, AdminSecret: one.AdminSecret})
	alice := one.CreateAccount(t, "alice")

	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			c1, c2 := client(t, style, one.Endpoint, alice), client(t, style, two.Endpoint, alice)
			in := CreateCenIn{Name: uniq("cluster-" + style), ClientToken: "tok-" + uniq(style)}
			id := must[string](t, "CreateCen on server 1")(c1.CreateCen(in))
			if cen, _ := describeCen(t, c2, id); cen == nil || cen.Name != in.Name {
				t.Fatalf("CEN %s created through server 1, read through server 2: %+v", id, cen)
			}
			if again := must[string](t, "CreateCen retry on server 2")(c2.CreateCen(in)); again != id {
				t.Fatalf("ClientToken retry on server 2 answered %s; want server 1's %s", again, id)
			}
			cens, _, err := c2.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{in.Name}}}})
			mustOK(t, "DescribeCens by name", err)
			if len(cens) != 1 {
				t.Fatalf("%d CENs named %s after a retry on the other server; want 1", len(cens), in.Name)
			}

			// The SDK signs one request; it goes to server 1 through a recording proxy, and
			// its exact bytes are sent again to server 2.
			px1, px2 := newProxy(t, one.Endpoint), newProxy(t, two.Endpoint)
			pc := client(t, style, px1.Endpoint(), alice)
			name := uniq("replayed-" + style)
			must[string](t, "CreateCen through the proxy to server 1")(pc.CreateCen(CreateCenIn{Name: name}))
			resp, body, err := px2.Resend(px1.Last())
			if err != nil {
				t.Fatalf("resend to server 2: %v", err)
			}
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"SignatureNonceUsed"`) {
				t.Fatalf("the request replayed to server 2: HTTP %d %s; want 403 SignatureNonceUsed", resp.StatusCode, body)
			}
			cens, _, err = c1.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{name}}}})
			mustOK(t, "DescribeCens by name", err)
			if len(cens) != 1 {
				t.Fatalf("%d CENs named %s after the replay; want 1", len(cens), name)
			}
		})
	}
}
