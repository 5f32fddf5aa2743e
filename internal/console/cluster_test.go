package console_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"opencen/internal/secret"
	"opencen/internal/server"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// TestSessionsAcrossServers: on servers sharing an etcd, a console session made on one
// works on the other (behind a load balancer a browser reaches either), and Sign out on
// one ends it on both, also for a copy of the cookie.
func TestSessionsAcrossServers(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if _, err := secret.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	onEtcd := func(o *server.Options) {
		o.Store = server.StoreOptions{Kind: server.StoreEtcd, Etcd: store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: "/console/"}}
		o.SecretKeyFile = keyFile
	}
	one, two := newEnv(t, onEtcd), newEnv(t, onEtcd)
	a := one.newAccount(t, "alice")

	b := one.browser(t)
	b.signIn(a) // on server 1
	u, _ := url.Parse(one.url + "/console/")
	copied := b.c.Jar.Cookies(u)
	b.base = two.url // the jar's cookies are per host, not per port
	resp, body := b.get("/console/cens")
	wantStatus(t, "server 2 with a session made on server 1", resp, body, http.StatusOK)

	csrf := b.csrf("/console/cens")
	resp, body = b.post("/console/signout", url.Values{"csrf": {csrf}}, "same") // on server 2
	wantRedirect(t, "sign-out on server 2", resp, body, "/console/signin")

	thief := one.browser(t)
	thief.c.Jar.SetCookies(u, copied)
	for _, e := range []*env{one, two} {
		thief.base = e.url
		resp, body = thief.get("/console/cens")
		wantStatus(t, "GET with the signed-out cookie on "+e.url, resp, body, http.StatusSeeOther)
	}
}
