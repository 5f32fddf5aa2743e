// Browser scenarios of the OpenCEN console, run by console_test.go:
//   node run.mjs SCENARIO   with OPENCEN_CONSOLE_TEST='{"url":..., "artifacts":..., "users":{...}, "input":{...}}'
// Each scenario drives Debian's chromium through the console as a person would (labels,
// roles, the keyboard), saves screenshots, and prints "RESULT {json}" with the IDs it made;
// the Go test then checks every value through the API.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

const cfg = JSON.parse(process.env.OPENCEN_CONSOLE_TEST);
const scenario = process.argv[2];
mkdirSync(cfg.artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: cfg.chromium || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const pages = [];

// session opens a signed-in page for a user at a viewport.
async function session(user, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport, baseURL: cfg.url });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  pages.push(page);
  await page.goto("/console/cens");
  // Redirected to sign-in; fill it with the keyboard only.
  await page.waitForURL(/\/console\/signin/);
  // The AccessKey ID field has autofocus.
  await page.waitForFunction(() => document.activeElement?.name === "AccessKeyId");
  await page.keyboard.type(user.key);
  await page.keyboard.press("Tab");
  await page.keyboard.type(user.secret);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/console\/cens$/);
  assert.equal(await page.locator("#account-id").textContent(), user.id);
  return page;
}

// submit clicks a form's button and waits for the page the server answers with, so what
// follows never reads the previous page (a form the browser refuses to send fails here).
async function submit(page, button) {
  await Promise.all([page.waitForEvent("load"), button.click()]);
}

let shots = 0;
async function shot(page, name) {
  shots++;
  await page.screenshot({ path: `${cfg.artifacts}/${scenario}-${String(shots).padStart(2, "0")}-${name}.png`, fullPage: true });
}

// flash returns the success message, failing with the page's error when there is one.
async function flash(page) {
  const ok = page.locator(".flash"), bad = page.locator("#page-error");
  await ok.or(bad).first().waitFor();
  if (await bad.count()) throw new Error("console error: " + (await bad.textContent()));
  return (await ok.textContent()).trim();
}

function idIn(text, prefix) {
  const m = text.match(new RegExp(`\\b${prefix}-[a-z0-9]+`));
  assert.ok(m, `no ${prefix} ID in ${JSON.stringify(text)}`);
  return m[0];
}

// checkPage asserts what every page owes every user: a label on each visible control and
// no horizontal scrolling of the page (wide tables scroll inside their own box).
async function checkPage(page, what) {
  const problems = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll("input, select, textarea")) {
      if (el.type === "hidden" || el.closest("[hidden]")) continue;
      const named = el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
      if (!named) out.push(`unlabelled ${el.tagName} name=${el.name}`);
    }
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth + 1) out.push(`page scrolls horizontally: ${doc.scrollWidth} > ${doc.clientWidth}`);
    for (const f of document.querySelectorAll("form")) {
      const r = f.getBoundingClientRect();
      if (r.width > 0 && r.right > doc.clientWidth + 1) out.push(`form ${f.action} overflows: right ${r.right} > ${doc.clientWidth}`);
    }
    return out;
  });
  assert.deepEqual(problems, [], `${what}: ${problems.join("; ")}`);
}

// fieldError returns the message shown next to the field labelled label.
async function fieldError(page, label) {
  const input = page.getByLabel(label, { exact: true });
  await assert.doesNotReject(input.waitFor(), `no field ${label}`);
  assert.equal(await input.getAttribute("aria-invalid"), "true", `${label} is not marked invalid`);
  const id = await input.getAttribute("id");
  return (await page.locator(`#${id}-err`).textContent()).trim();
}

async function openConnect(page, tr) {
  await page.goto(`/console/trs/${tr}`);
  await page.getByRole("link", { name: "Create Connection" }).click();
  await page.waitForURL(/\/connect$/);
  await page.getByRole("heading", { name: "Connection with Peer Network Instance" }).waitFor();
}

async function waitFinished(page) {
  await page.getByText("All steps finished.").or(page.locator(".progress .field-error")).first().waitFor({ timeout: 60000 });
  const err = page.locator(".progress .field-error");
  if (await err.count()) throw new Error("attach failed: " + (await err.textContent()));
}

const scenarios = {
  // The product page's procedure "Attach an IPsec-VPN connection to a transit router",
  // with non-default values everywhere.
  async attach({ users }) {
    const page = await session(users.alice);
    await shot(page, "instances-empty");
    await page.getByLabel("Name", { exact: true }).fill("prod-cen");
    await submit(page, page.getByRole("button", { name: "Create CEN Instance" }));
    const cen = idIn(await flash(page), "cen");
    await page.locator("#cen-status").getByText("Active").waitFor(); // live, no reload
    await page.getByLabel("Region", { exact: true }).selectOption("cn-hangzhou");
    await page.getByLabel("Transit router name").fill("hz-tr");
    await submit(page, page.getByRole("button", { name: "Create Transit Router" }));
    const tr = idIn(await flash(page), "tr");
    // The transit router becomes Active without a reload (live region).
    const row = page.getByRole("row").filter({ hasText: tr });
    await row.getByRole("link", { name: "Create Connection" }).waitFor();
    await shot(page, "cen-transit-routers");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Customer Gateways" }).click();
    await page.getByLabel("IP Address").fill("198.18.0.2");
    await page.getByLabel("ASN", { exact: true }).fill("65010");
    await page.getByLabel("Name", { exact: true }).fill("dc1");
    await submit(page, page.getByRole("button", { name: "Create Customer Gateway" }));
    const cgw = idIn(await flash(page), "cgw");
    await shot(page, "customer-gateways");

    // Instances -> CEN ID -> Transit Router tab -> Create Connection in the Actions column.
    await page.getByRole("link", { name: "CEN Instances" }).click();
    await page.getByRole("link", { name: cen }).click();
    await page.getByRole("row").filter({ hasText: tr }).getByRole("link", { name: "Create Connection" }).click();
    await page.getByRole("heading", { name: "Connection with Peer Network Instance" }).waitFor();
    assert.match(await page.locator("#slr-note").textContent(), /AliyunServiceRoleForVpn/);
    // The defaults of the product page are preselected.
    const defaults = {
      "Version": "ikev2", "Negotiation Mode": "main", "IKE Encryption Algorithm": "aes", "IKE Authentication Algorithm": "sha1",
      "IKE DH Group": "group2", "IKE SA Lifetime (Seconds)": "86400", "IPsec Encryption Algorithm": "aes",
      "IPsec Authentication Algorithm": "sha1", "IPsec DH Group": "group2", "IPsec SA Lifetime (Seconds)": "86400",
    };
    for (const [label, want] of Object.entries(defaults)) assert.equal(await page.getByLabel(label, { exact: true }).inputValue(), want, label);
    for (const label of ["DPD", "NAT Traversal", "Automatically Advertise Routes to VPN",
      "Automatically associate with the default route table of the transit router",
      "Automatically advertise system routes to the default route table of the transit router"]) {
      assert.ok(await page.getByLabel(label, { exact: true }).isChecked(), `${label} is on by default`);
    }
    assert.ok(!(await page.getByLabel("Enable BGP").isChecked()), "BGP is off by default");
    // Fields that do not apply are hidden until their switch is on.
    for (const label of ["Tunnel CIDR Block", "Local ASN", "Destination IP", "Switch Route", "Local CIDR Block", "Account ID of the IPsec-VPN connection's owner"]) {
      assert.ok(!(await page.getByLabel(label, { exact: true }).isVisible()), `${label} shown while it does not apply`);
    }
    assert.ok(await page.getByLabel("No: negotiate when traffic arrives (default)").isChecked());
    assert.ok(await page.getByLabel("Destination Routing (default)").isChecked());
    await shot(page, "create-connection-defaults");

    await page.getByLabel("Current Account").check();
    await page.getByLabel("Create Resource").check();
    await page.getByLabel("Attachment Name").fill("to-dc1");
    await page.getByLabel("Tag 1 key").fill("env");
    await page.getByLabel("Tag 1 value").fill("prod");
    await page.getByLabel("Tag 2 key").fill("team");
    await page.getByLabel("Tag 2 value").fill("netops");
    await page.getByLabel("Zone", { exact: true }).selectOption("cn-hangzhou-i");
    await page.getByLabel("Customer Gateway").selectOption(cgw);
    await page.getByLabel("Flow Protection").check();
    await page.getByLabel("Local CIDR Block").fill("10.0.0.0/16");
    await page.getByLabel("Peer CIDR Block").fill("192.168.10.0/24,192.168.11.0/24");
    await page.getByLabel(/Yes: negotiate/).check();
    await page.getByLabel("Pre-shared Key").fill("s3cr3t-Key!");
    await page.getByLabel("Version", { exact: true }).selectOption("ikev1");
    await page.getByLabel("Negotiation Mode").selectOption("aggressive");
    await page.getByLabel("IKE Encryption Algorithm").selectOption("aes256");
    await page.getByLabel("IKE Authentication Algorithm").selectOption("sha256");
    await page.getByLabel("IKE DH Group").selectOption("group14");
    await page.getByLabel("IKE SA Lifetime (Seconds)").fill("3600");
    await page.getByLabel("LocalId").fill("cloud.example.com");
    await page.getByLabel("RemoteId").fill("dc.example.net");
    await page.getByLabel("IPsec Encryption Algorithm").selectOption("3des");
    await page.getByLabel("IPsec Authentication Algorithm").selectOption("md5");
    await page.getByLabel("IPsec DH Group").selectOption("disabled");
    await page.getByLabel("IPsec SA Lifetime (Seconds)").fill("1800");
    await page.getByLabel("DPD", { exact: true }).uncheck();
    await page.getByLabel("NAT Traversal").uncheck();
    await page.getByLabel("Enable BGP").check();
    assert.ok(await page.getByLabel("Tunnel CIDR Block").isVisible());
    await page.getByLabel("Tunnel CIDR Block").fill("169.254.11.0/30");
    await page.getByLabel("Local BGP IP").fill("169.254.11.1");
    await page.getByLabel("Local ASN").fill("65001");
    await page.getByLabel("Enable health checks").check();
    await page.getByLabel("Destination IP").fill("192.168.10.1");
    await page.getByLabel("Source IP").fill("10.0.0.1");
    await page.getByLabel("Retry Interval (Seconds)").fill("5");
    await page.getByLabel("Number of Retries").fill("4");
    await page.getByLabel("Switch Route").uncheck();
    await page.getByLabel("Automatically Advertise Routes to VPN").uncheck();
    await checkPage(page, "create connection form");
    await shot(page, "create-connection-filled");
    await submit(page, page.getByRole("button", { name: "OK" }));
    await page.waitForURL(/\/attachments\//);
    const text = await flash(page);
    const vco = idIn(text, "vco"), att = idIn(text, "tr-attach");
    // Progress appears and completes without a reload.
    await page.locator(".progress").waitFor();
    await shot(page, "attachment-progress");
    await waitFinished(page);
    await page.locator("#att-status").getByText("Attached").waitFor();
    await shot(page, "attachment-details");
    return { cen, tr, cgw, vco, att };
  },

  // "Associate the VPN connection with another transit router route table", after making
  // the table on the Route Tables tab; then static and blackhole entries in it.
  async modify({ users, input }) {
    const page = await session(users.alice);
    await page.getByRole("link", { name: input.cen }).click();
    await page.getByRole("link", { name: input.tr, exact: true }).click();
    await page.getByRole("navigation", { name: "Transit router" }).getByRole("link", { name: "Route Tables" }).click();
    await page.getByLabel("Route table name").fill("custom-rt");
    await submit(page, page.getByRole("button", { name: "Create route table" }));
    const table = idIn(await flash(page), "vtb");
    // Wait for the table to be Active (reloading, as a person would).
    for (let i = 0; ; i++) {
      if (await page.getByRole("row").filter({ hasText: table }).getByText("Active").count()) break;
      assert.ok(i < 60, `${table} never became Active`);
      await page.waitForTimeout(500);
      await page.reload();
    }
    await shot(page, "route-tables");

    // transit router ID -> Intra-region Connections -> connection ID -> Attachment Details.
    await page.getByRole("link", { name: "Intra-region Connections" }).click();
    await shot(page, "intra-region-connections");
    await page.getByRole("link", { name: input.att }).click();
    await page.getByRole("heading", { name: "Attachment Details" }).waitFor();
    await page.getByRole("link", { name: "Modify associated route table" }).click();
    const dialog = page.getByRole("dialog", { name: "Modify Route Table" });
    await dialog.getByLabel("Route table").selectOption(table);
    await shot(page, "modify-route-table-dialog");
    await submit(page, dialog.getByRole("button", { name: "OK" }));
    assert.match(await flash(page), new RegExp(`Associated ${input.att} with route table ${table}`));
    assert.equal((await page.locator("#assoc-table").textContent()).trim(), table);
    await shot(page, "attachment-reassociated");

    // Static and blackhole entries in the new table.
    await page.locator("#assoc-table").getByRole("link", { name: table }).click();
    // A refused entry: the message sits at its field, and the page (now the answer to a
    // POST) keeps updating itself from the table's own address.
    await page.getByLabel("Destination CIDR").fill("not-a-cidr");
    await submit(page, page.getByRole("button", { name: "Add route entry" }));
    assert.match(await fieldError(page, "Destination CIDR"), /TransitRouterRouteEntryDestinationCidrBlock/);
    const refresh = await page.waitForResponse(r => r.url().includes("partial=entries"), { timeout: 15000 });
    assert.equal(refresh.status(), 200);
    assert.ok(refresh.url().includes(`/console/tables/${table}?`), refresh.url());
    await page.getByLabel("Destination CIDR").fill("192.168.20.0/24");
    await page.getByLabel("Connection (static route)").check();
    await page.getByLabel("Next hop connection").selectOption(input.att);
    await submit(page, page.getByRole("button", { name: "Add route entry" }));
    const staticEntry = idIn(await flash(page), "rte");
    await page.getByLabel("Destination CIDR").fill("10.99.0.0/16");
    await page.getByLabel("Blackhole (drop)").check();
    await submit(page, page.getByRole("button", { name: "Add route entry" }));
    const blackhole = idIn(await flash(page), "rte");
    await page.getByRole("row").filter({ hasText: "10.99.0.0/16" }).getByRole("cell", { name: "blackhole", exact: true }).waitFor();
    await checkPage(page, "route table");
    await shot(page, "route-table-entries");

    // The service-linked role note appears only the first time.
    await openConnect(page, input.tr);
    assert.equal(await page.locator("#slr-note").count(), 0, "service-linked role note shown again");
    return { table, staticEntry, blackhole };
  },

  // Routing policies: create one with conditions and actions; the system policy is shown
  // as not editable.
  async policies({ users, input }) {
    const page = await session(users.alice);
    await page.goto(`/console/cens/${input.cen}?tab=routemaps`);
    const system = page.getByRole("row").filter({ hasText: "System policy · not editable" });
    assert.ok(await system.count() >= 1, "system policy listed");
    assert.equal(await system.first().getByRole("button", { name: "Delete" }).count(), 0, "system policy deletable");
    await page.getByLabel("Region", { exact: true }).selectOption("cn-hangzhou");
    await page.getByLabel("Route table", { exact: true }).selectOption(input.table);
    await page.getByLabel("Direction").selectOption("RegionOut");
    await page.getByLabel("Priority", { exact: true }).fill("20");
    await page.getByLabel("Policy action").selectOption("Permit");
    await page.getByLabel("Route prefixes").fill("192.168.20.0/24, 192.168.21.0/24");
    await page.getByLabel("Prefix match").selectOption("Complete");
    await page.getByLabel("AS path ASNs").fill("65010");
    await page.getByLabel("Route preference").fill("30");
    await page.getByLabel("Prepend AS path").fill("65001,65001");
    await submit(page, page.getByRole("button", { name: "Create routing policy" }));
    const policy = idIn(await flash(page), "cenrmap");
    await page.getByRole("row").filter({ hasText: policy }).waitFor();
    await checkPage(page, "routing policies");
    await shot(page, "routing-policies");
    // A bad value is reported next to its field.
    await page.getByLabel("Priority", { exact: true }).fill("20");
    await page.getByLabel("AS path ASNs").fill("sixty");
    await submit(page, page.getByRole("button", { name: "Create routing policy" }));
    assert.match(await fieldError(page, "AS path ASNs"), /MatchAsns/);
    return { policy };
  },

  // Bad input is reported next to its field, with the API's own message, and creates nothing.
  async validation({ users, input }) {
    const page = await session(users.alice);
    const cases = [
      { name: "psk", field: "Pre-shared Key", set: async () => page.getByLabel("Pre-shared Key").fill("has spaces in it"), want: /IkeConfig\.Psk/ },
      { name: "psk-long", field: "Pre-shared Key", set: async () => page.getByLabel("Pre-shared Key").fill("k".repeat(101)), want: /1 to 100 characters/ },
      {
        name: "tunnel-cidr", field: "Tunnel CIDR Block", want: /169\.254\.0\.0\/16/, set: async () => {
          await page.getByLabel("Enable BGP").check();
          await page.getByLabel("Tunnel CIDR Block").fill("10.0.0.0/30");
          await page.getByLabel("Local BGP IP").fill("10.0.0.1");
        },
      },
      {
        name: "asn", field: "Local ASN", want: /BgpConfig\.LocalAsn/, set: async () => {
          await page.getByLabel("Enable BGP").check();
          await page.getByLabel("Tunnel CIDR Block").fill("169.254.12.0/30");
          await page.getByLabel("Local BGP IP").fill("169.254.12.1");
          await page.getByLabel("Local ASN").fill("4294967296");
        },
      },
      { name: "tag", field: "Tag 1 key", set: async () => { await page.getByLabel("Tag 1 key").fill("acs:reserved"); }, want: /acs:/ },
      { name: "tag-value", field: "Tag 1 value", set: async () => { await page.getByLabel("Tag 1 key").fill("ok"); await page.getByLabel("Tag 1 value").fill("see https://example.com"); }, want: /https:\/\// },
    ];
    const seen = {};
    for (const c of cases) {
      await openConnect(page, input.tr);
      await page.getByLabel("Customer Gateway").selectOption(input.cgw);
      await page.getByLabel("Attachment Name").fill("bad-" + c.name);
      await c.set();
      await submit(page, page.getByRole("button", { name: "OK" }));
      await page.locator("#page-error").waitFor();
      const msg = await fieldError(page, c.field);
      assert.match(msg, c.want, `${c.name}: ${msg}`);
      // Keyboard focus lands on the field in error.
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-invalid")), "true", `${c.name}: focus`);
      await shot(page, "invalid-" + c.name);
      seen[c.name] = msg;
    }
    return { messages: seen };
  },

  // The cross-account path: bob creates a connection in the VPN console, grants it to
  // alice's CEN; alice attaches it with Different Account.
  async cross({ users, input }) {
    const bob = await session(users.bob);
    await bob.getByRole("link", { name: "Customer Gateways" }).click();
    await bob.getByLabel("IP Address").fill("198.18.0.3");
    await bob.getByLabel("Name", { exact: true }).fill("bob-dc");
    await submit(bob, bob.getByRole("button", { name: "Create Customer Gateway" }));
    const cgw = idIn(await flash(bob), "cgw");
    await bob.getByRole("link", { name: "IPsec-VPN Connections" }).click();
    await bob.getByRole("link", { name: "Create IPsec-VPN Connection" }).click();
    await bob.getByLabel("Name", { exact: true }).fill("bob-vpn");
    await bob.getByLabel("Customer Gateway").selectOption(cgw);
    await bob.getByLabel("Pre-shared Key").fill("bobs-key");
    await bob.getByLabel("IKE Encryption Algorithm").selectOption("aes192");
    await checkPage(bob, "VPN console create form");
    await shot(bob, "bob-create-vpn");
    await submit(bob, bob.getByRole("button", { name: "OK" }));
    const vco = idIn(await flash(bob), "vco");
    // Edit shows the pre-shared key (as the product page says) and saves changes.
    await bob.getByRole("link", { name: "Edit" }).click();
    assert.equal(await bob.getByLabel("Pre-shared Key").inputValue(), "bobs-key");
    assert.equal(await bob.getByLabel("IKE Encryption Algorithm").inputValue(), "aes192");
    await bob.getByLabel("IKE Authentication Algorithm").selectOption("sha512");
    await bob.getByLabel("DPD", { exact: true }).uncheck();
    await shot(bob, "bob-edit-vpn");
    await submit(bob, bob.getByRole("button", { name: "OK" }));
    assert.match(await flash(bob), /Saved/);
    await bob.getByLabel("CEN owner account ID").fill(users.alice.id);
    await bob.getByLabel("CEN instance ID").fill(input.cen);
    await submit(bob, bob.getByRole("button", { name: "Grant" }));
    await flash(bob);
    await bob.getByText(`CEN ${input.cen} of account ${users.alice.id}`).waitFor();
    await shot(bob, "bob-vpn-granted");

    const alice = await session(users.alice);
    await openConnect(alice, input.tr);
    await alice.getByLabel("Different Account").check();
    await alice.getByLabel("Account ID of the IPsec-VPN connection's owner").fill(users.bob.id);
    await alice.getByLabel("IPsec-VPN connection", { exact: true }).fill(vco);
    await alice.getByLabel("Attachment Name").fill("from-bob");
    await shot(alice, "alice-different-account");
    await submit(alice, alice.getByRole("button", { name: "OK" }));
    await alice.waitForURL(/\/attachments\//);
    const att = idIn(await flash(alice), "tr-attach");
    await waitFinished(alice);
    await shot(alice, "alice-cross-account-attached");
    return { vco, cgw, att };
  },

  // A dual-tunnel connection in the VPN console: the form's mode switch, each tunnel's
  // fields in its own group with the page's preselected values, the connection page with
  // both tunnels and their logs, and an edit that swaps the roles.
  async dual({ users }) {
    const page = await session(users.alice);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Customer Gateways" }).click();
    const cgws = [];
    for (const [ip, name] of [["198.18.0.12", "dc-a"], ["198.18.0.13", "dc-b"]]) {
      await page.getByLabel("IP Address").fill(ip);
      await page.getByLabel("ASN", { exact: true }).fill("65020"); // BGP needs the data center's ASN
      await page.getByLabel("Name", { exact: true }).fill(name);
      await submit(page, page.getByRole("button", { name: "Create Customer Gateway" }));
      cgws.push(idIn(await flash(page), "cgw"));
    }
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "IPsec-VPN Connections" }).click();
    await page.getByRole("link", { name: "Create IPsec-VPN Connection" }).click();
    await page.locator("#tunnel-mode").getByRole("link", { name: "Dual tunnel" }).click();
    await page.waitForURL(/tunnels=dual/);
    const t1 = page.getByRole("group", { name: "Tunnel 1", exact: true }), t2 = page.getByRole("group", { name: "Tunnel 2", exact: true });
    // Each tunnel starts from the page's preselected values; tunnel 1 is the master.
    const defaults = {
      "Role": ["master", "slave"], "IKE Version": ["ikev2", "ikev2"], "Negotiation Mode": ["main", "main"],
      "IKE Encryption Algorithm": ["aes", "aes"], "IKE Authentication Algorithm": ["sha1", "sha1"], "IKE DH Group": ["group2", "group2"],
      "IKE SA Lifetime (Seconds)": ["86400", "86400"], "IPsec Encryption Algorithm": ["aes", "aes"],
      "IPsec Authentication Algorithm": ["sha1", "sha1"], "IPsec DH Group": ["group2", "group2"], "IPsec SA Lifetime (Seconds)": ["86400", "86400"],
    };
    for (const [label, want] of Object.entries(defaults)) {
      for (const [i, g] of [t1, t2].entries()) assert.equal(await g.getByLabel(label, { exact: true }).inputValue(), want[i], `tunnel ${i + 1}: ${label}`);
    }
    for (const g of [t1, t2]) {
      assert.ok(await g.getByLabel("DPD", { exact: true }).isChecked(), "DPD is on by default");
      assert.ok(await g.getByLabel("NAT Traversal", { exact: true }).isChecked(), "NAT traversal is on by default");
      assert.ok(!(await g.getByLabel("Tunnel CIDR Block").isVisible()), "BGP fields shown while BGP is off");
    }
    await page.getByLabel("Name", { exact: true }).fill("dual-dc");
    await t1.getByLabel("Customer Gateway").selectOption(cgws[0]);
    await t2.getByLabel("Customer Gateway").selectOption(cgws[1]);
    await t1.getByLabel("Pre-shared Key").fill("tunnel-1-key");
    await t2.getByLabel("Pre-shared Key").fill("tunnel-2-key");
    await t2.getByLabel("IKE Encryption Algorithm").selectOption("aes256");
    await t2.getByLabel("DPD", { exact: true }).uncheck();
    await page.getByLabel("Enable BGP on both tunnels").check();
    for (const [g, net] of [[t1, "169.254.30"], [t2, "169.254.31"]]) {
      await g.getByLabel("Tunnel CIDR Block").fill(`${net}.0/30`);
      await g.getByLabel("Local BGP IP").fill(`${net}.1`);
    }
    await checkPage(page, "dual-tunnel create form");
    await shot(page, "dual-create");
    await submit(page, page.getByRole("button", { name: "OK" }));
    const vco = idIn(await flash(page), "vco");
    const tunnels = page.getByRole("table", { name: "Tunnels of this connection" });
    for (const role of ["master", "slave"]) await tunnels.getByRole("cell", { name: role, exact: true }).waitFor();
    await page.getByRole("heading", { name: /Logs of the master tunnel/ }).waitFor();
    await page.getByRole("heading", { name: /Logs of the slave tunnel/ }).waitFor();
    await checkPage(page, "dual-tunnel connection page");
    await shot(page, "dual-connection");

    await page.getByRole("link", { name: "Edit" }).click();
    assert.equal(await t2.getByLabel("Pre-shared Key").inputValue(), "tunnel-2-key");
    assert.equal(await t2.getByLabel("IKE Encryption Algorithm").inputValue(), "aes256");
    await t1.getByLabel("Role").selectOption("slave");
    await t2.getByLabel("Role").selectOption("master");
    await checkPage(page, "dual-tunnel edit form");
    await shot(page, "dual-edit");
    await submit(page, page.getByRole("button", { name: "OK" }));
    assert.match(await flash(page), /Saved/);
    return { vco, cgws };
  },

  // An account sees none of another's resources, by list or by direct address.
  async isolation({ users, input }) {
    const bob = await session(users.bob);
    assert.equal(await bob.getByText(input.cen).count(), 0, "alice's CEN listed for bob");
    for (const [path, code] of [[`/console/cens/${input.cen}`, "InvalidCenId.NotFound"], [`/console/trs/${input.tr}`, "InvalidTransitRouterId.NotFound"],
      [`/console/trs/${input.tr}/connect`, "InvalidTransitRouterId.NotFound"], [`/console/tables/${input.table}`, "NotFound"],
      [`/console/vpn/connections/${input.vco}?region=cn-hangzhou`, "NotFound"]]) {
      const res = await bob.goto(path);
      assert.equal(res.status(), 404, path);
      assert.match(await bob.locator("#page-error").textContent(), new RegExp(code.replace(".", "\\.")), path);
    }
    await shot(bob, "bob-cannot-see-alice");
    await bob.goto("/console/vpn/connections?region=cn-hangzhou");
    assert.equal(await bob.getByText(input.vco).count(), 0, "alice's connection listed for bob");
    // A form aimed at alice's transit router is refused by the same authorization.
    await bob.goto("/console/vpn/cgws");
    const csrf = await bob.locator("input[name=csrf]").first().inputValue();
    const res = await bob.request.post(`/console/trs/${input.tr}/connect`, {
      form: { csrf, RegionId: "cn-hangzhou", ResourceOwner: "current", Resource: "select", VpnId: input.vco, TransitRouterId: input.tr },
      headers: { Origin: cfg.url },
    });
    assert.equal(res.status(), 404, "bob posting to alice's transit router");
    // Without the CSRF token the same post is refused outright.
    const forged = await bob.request.post(`/console/cens`, { form: { Name: "forged" }, headers: { Origin: cfg.url } });
    assert.equal(forged.status(), 403);
    return {};
  },

  // Every page at both sizes: labels, no horizontal scrolling, screenshots; keyboard focus
  // order reaches the connection form's OK button.
  async layout({ users, input }) {
    const paths = [
      ["instances", "/console/cens"], ["cen", `/console/cens/${input.cen}`], ["route-maps", `/console/cens/${input.cen}?tab=routemaps`],
      ["transit-router", `/console/trs/${input.tr}`], ["tr-tables", `/console/trs/${input.tr}?tab=tables`],
      ["create-connection", `/console/trs/${input.tr}/connect`], ["attachment", `/console/trs/${input.tr}/attachments/${input.att}`],
      ["modify-dialog", `/console/trs/${input.tr}/attachments/${input.att}?dialog=table`], ["route-table", `/console/tables/${input.table}`],
      ["customer-gateways", "/console/vpn/cgws?region=cn-hangzhou"], ["vpn-connections", "/console/vpn/connections?region=cn-hangzhou"],
      ["vpn-connection", `/console/vpn/connections/${input.vco}?region=cn-hangzhou`], ["vpn-edit", `/console/vpn/connections/${input.vco}/edit?region=cn-hangzhou`],
      ["vpn-create", "/console/vpn/connections/new?region=cn-hangzhou"], ["vpn-create-dual", "/console/vpn/connections/new?region=cn-hangzhou&tunnels=dual"],
      ["vpn-dual-connection", `/console/vpn/connections/${input.dual}?region=cn-hangzhou`], ["vpn-dual-edit", `/console/vpn/connections/${input.dual}/edit?region=cn-hangzhou`],
    ];
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const page = await session(users.alice, viewport);
      for (const [name, path] of paths) {
        const res = await page.goto(path);
        assert.equal(res.status(), 200, path);
        await checkPage(page, `${name} at ${viewport.width}x${viewport.height}`);
        await shot(page, `${name}-${viewport.width}x${viewport.height}`);
      }
      // The topology is drawn, with a node per attachment.
      await page.goto(`/console/trs/${input.tr}`);
      assert.ok(await page.locator("svg.topology .node.att").count() >= 1);
      // Keyboard: from the page top, Tab reaches the OK button of the connection form.
      await page.goto(`/console/trs/${input.tr}/connect`);
      let reached = false;
      for (let i = 0; i < 200 && !reached; i++) {
        await page.keyboard.press("Tab");
        reached = await page.evaluate(() => document.activeElement?.textContent?.trim() === "OK");
      }
      assert.ok(reached, "Tab never reached OK");
    }
    return {};
  },
};

// Edit: saving an unchanged form changes nothing; turning BGP and health checks off sticks.
scenarios.edit = async function ({ users, input }) {
  const page = await session(users.alice);
  await page.goto(`/console/vpn/connections/${input.vco}/edit?region=cn-hangzhou`);
  assert.ok(await page.getByLabel("Enable BGP").isChecked());
  await submit(page, page.getByRole("button", { name: "OK" }));
  assert.match(await flash(page), /Nothing to save/);
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByLabel("Enable BGP").uncheck();
  await page.getByLabel("Enable health checks").uncheck();
  await submit(page, page.getByRole("button", { name: "OK" }));
  assert.match(await flash(page), /Saved/);
  await page.locator("#status").getByText("off").first().waitFor();
  await shot(page, "edited-bgp-off");
  return {};
};

// Deleting, as the API allows: the cross-account connection (with Force), then bob's
// connection and gateway; a CEN that still has transit routers is refused with the reason.
scenarios.delete = async function ({ users, input }) {
  const alice = await session(users.alice);
  await alice.goto(`/console/trs/${input.tr}/attachments/${input.att}`);
  await alice.getByText("Delete connection…").click();
  await alice.getByLabel(/Also remove its route table associations/).check();
  await shot(alice, "delete-connection");
  await submit(alice, alice.getByRole("button", { name: "Delete connection" }));
  assert.match(await flash(alice), new RegExp(`Deleting connection ${input.att}`));
  await alice.getByRole("link", { name: input.att }).waitFor({ state: "detached", timeout: 30000 }); // live list
  await alice.goto(`/console/cens/${input.cen}`);
  await alice.getByText("Delete CEN instance…").click();
  await submit(alice, alice.getByRole("button", { name: "Delete CEN instance" }));
  assert.equal(await alice.getByRole("heading", { level: 1 }).textContent(), "Not deleted");
  assert.match(await alice.locator("#page-error").textContent(), /transit router/i);
  await shot(alice, "cen-not-deleted");

  const bob = await session(users.bob);
  await bob.goto(`/console/vpn/connections/${input.vco}?region=cn-hangzhou`);
  await bob.locator("#status").getByText("not associated").waitFor({ timeout: 30000 });
  await bob.getByText("Delete IPsec-VPN connection…").click();
  await submit(bob, bob.getByRole("button", { name: "Delete IPsec-VPN connection" }));
  assert.match(await flash(bob), new RegExp(`Deleted IPsec-VPN connection ${input.vco}`));
  await bob.getByRole("link", { name: "Customer Gateways" }).click();
  const row = bob.getByRole("row").filter({ hasText: input.cgw });
  await row.getByText("Delete customer gateway…").click();
  await submit(bob, row.getByRole("button", { name: "Delete customer gateway" }));
  assert.match(await flash(bob), new RegExp(`Deleted customer gateway ${input.cgw}`));
  assert.equal(await bob.getByRole("row").filter({ hasText: input.cgw }).count(), 0);
  return {};
};

// The live scenarios need a real data plane (TestConsoleLive runs them as root).
Object.assign(scenarios, {
  // Create Connection in the console, then "Download configuration" for the data center.
  async livecreate({ users, input }) {
    const page = await session(users.alice);
    await openConnect(page, input.tr);
    await page.getByLabel("Customer Gateway").selectOption(input.cgw);
    await page.getByLabel("Attachment Name").fill("live-dc");
    await page.getByLabel(/Yes: negotiate/).check();
    await page.getByLabel("Pre-shared Key").fill("live-Psk-1");
    await page.getByLabel("Enable BGP").check();
    await page.getByLabel("Tunnel CIDR Block").fill("169.254.21.0/30");
    await page.getByLabel("Local BGP IP").fill("169.254.21.1");
    await page.getByLabel("Local ASN").fill("65001");
    await page.getByLabel("Enable health checks").check();
    await page.getByLabel("Destination IP").fill(input.dip);
    await page.getByLabel("Source IP").fill(input.sip);
    await page.getByLabel("Retry Interval (Seconds)").fill("1");
    await page.getByLabel("Number of Retries").fill("2");
    await submit(page, page.getByRole("button", { name: "OK" }));
    await page.waitForURL(/\/attachments\//);
    const text = await flash(page);
    const vco = idIn(text, "vco"), att = idIn(text, "tr-attach");
    await waitFinished(page);
    await page.getByRole("link", { name: vco }).click();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download configuration (strongSwan)" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `${vco}-swanctl.conf`);
    await download.saveAs(input.conf);
    return { vco, att };
  },

  // Watch the connection come up, the health check fail and recover: no reloads.
  async livewatch({ users, input }) {
    const page = await session(users.alice);
    await page.goto(`/console/vpn/connections/${input.vco}?region=cn-hangzhou`);
    const status = page.locator("#status");
    await shot(page, "connection-before");
    await page.locator("#tunnel-status").getByText("ipsec_sa_established").waitFor({ timeout: 120000 });
    await status.getByText("success").nth(1).waitFor({ timeout: 120000 }); // BGP and health check
    // The data plane's objects of the connection, each applied.
    const plane = status.getByRole("table", { name: "Data-plane objects of this connection" });
    for (const kind of ["cell", "bgp", "health-check"]) {
      await plane.getByRole("row").filter({ hasText: new RegExp(`^${kind} on `) }).filter({ hasText: "done" }).waitFor({ timeout: 30000 });
    }
    await shot(page, "connection-up");
    const nft = (...args) => execFileSync("ip", ["netns", "exec", input.netns, "nft", ...args]);
    nft("add", "table", "inet", "ochcblock");
    nft("add", "chain", "inet", "ochcblock", "in", "{ type filter hook input priority 0 ; }");
    nft("add", "rule", "inet", "ochcblock", "in", "ip", "daddr", input.dip, "icmp", "type", "echo-request", "drop");
    try {
      await status.locator(".badge.bad", { hasText: "failed" }).waitFor({ timeout: 60000 });
      await status.locator(".logs").getByText(/health_check failed/).waitFor({ timeout: 30000 });
      await shot(page, "health-check-failed");
    } finally {
      nft("delete", "table", "inet", "ochcblock");
    }
    await status.locator(".badge.bad", { hasText: "failed" }).waitFor({ state: "detached", timeout: 60000 });
    await shot(page, "health-check-recovered");
    // The topology colours the attachment by its tunnel.
    await page.goto(`/console/trs/${input.tr}`);
    await page.locator("svg.topology .node.att.ok").waitFor();
    await shot(page, "topology-live");
    return {};
  },
});

// Metering: a connection's traffic chart in each range and the Billing page with its CSV,
// at a desktop and a phone viewport.
Object.assign(scenarios, {
  async metering({ users, input }) {
    const out = { captions: {}, rows: 0 };
    for (const [vp, size] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
      const page = await session(users.alice, size);
      await page.goto(`/console/vpn/connections/${input.vco}?region=cn-hangzhou`);
      const traffic = page.getByRole("region", { name: "Traffic" });
      for (const range of ["Last hour", "Last day", "Last week"]) {
        const link = traffic.getByRole("link", { name: range });
        if (await link.count()) await submit(page, link);
        await traffic.locator("strong[aria-current]", { hasText: range }).waitFor();
        const chart = traffic.getByRole("img");
        await chart.waitFor();
        // Both series are drawn, with one point per period of the range.
        const points = await traffic.locator("polyline.in").getAttribute("points");
        const n = { "Last hour": 60, "Last day": 24, "Last week": 168 }[range];
        assert.equal(points.trim().split(/\s+/).length, n, `${range}: points of the in series`);
        out.captions[`${vp} ${range}`] = (await traffic.locator("figcaption").textContent()).replace(/\s+/g, " ").trim();
        await checkPage(page, `chart ${range} ${vp}`);
        await shot(page, `chart-${range.replace(/ /g, "-").toLowerCase()}-${vp}`);
      }
      await page.getByRole("link", { name: "Billing" }).click();
      await page.waitForURL(/\/console\/billing/);
      await page.getByLabel("Month", { exact: true }).fill(input.month);
      await submit(page, page.getByRole("button", { name: "Show" }));
      const table = page.getByRole("table", { name: `Bill of ${input.month}` });
      await table.waitFor();
      out.rows = (await table.locator("tbody tr").count());
      out.total = (await page.locator("#bill-total").textContent()).trim();
      await checkPage(page, `billing ${vp}`);
      await shot(page, `billing-${vp}`);
      if (vp === "desktop") {
        const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download CSV" }).click()]);
        const path = `${cfg.artifacts}/bill-${input.month}.csv`;
        await download.saveAs(path);
        out.csv = (await import("node:fs")).readFileSync(path, "utf8");
        out.filename = download.suggestedFilename();
      }
    }
    return out;
  },
});

try {
  const fn = scenarios[scenario];
  if (!fn) throw new Error(`unknown scenario ${scenario}; have ${Object.keys(scenarios).join(", ")}`);
  const out = await fn(cfg);
  console.log("RESULT " + JSON.stringify(out));
} catch (err) {
  for (const [i, p] of pages.entries()) {
    await p.screenshot({ path: `${cfg.artifacts}/${scenario}-FAILED-${i}.png`, fullPage: true }).catch(() => {});
    console.error(`page ${i} was at ${p.url()}`);
  }
  console.error(err.stack || String(err));
  process.exitCode = 1;
} finally {
  await browser.close();
}
