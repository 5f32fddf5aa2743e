package model

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"opencen/internal/addrs"
	"opencen/internal/apierr"
)

// More kinds (issue 3).
const (
	KindCustomerGateway = "cgw"
	KindVpnConnection   = "vco"
	KindVpnAttachment   = "tr-attach"
	KindGrant           = "grant"
	KindRouteMap        = "cenrmap"
)

func init() {
	idPrefix[KindCustomerGateway] = "cgw-"
	idPrefix[KindVpnConnection] = "vco-"
	idPrefix[KindVpnAttachment] = "tr-attach-"
	idPrefix[KindGrant] = "grant-"
	idPrefix[KindRouteMap] = "cenrmap-"
}

// IPsec-VPN connection lifecycle (State) and negotiation (Status) values.
const (
	VcoInit      = "init"
	VcoAttaching = "attaching"
	VcoAttached  = "attached"
	VcoDetaching = "detaching"
	VcoUpdating  = "updating"

	IkeNotEstablished = "ike_sa_not_established"

	// StatusSuccess is a BGP session's or a health check's status while it is up
	// (BgpStatus, HealthCheckStatus), as the cloud reports them.
	StatusSuccess = "success"

	AttachCEN  = "CEN"
	AttachNone = "NO_ASSOCIATED"

	AttachmentAttaching = "Attaching"
	AttachmentAttached  = "Attached"
	AttachmentDetaching = "Detaching"
)

// DefaultLocalASN is the cloud side's ASN unless configured.
const DefaultLocalASN = 45104

// IkeConfig is phase 1. Psk is sealed at rest (service layer).
type IkeConfig struct {
	Psk         string `json:"psk"`
	IkeVersion  string `json:"ikeVersion"`
	IkeMode     string `json:"ikeMode"`
	IkeEncAlg   string `json:"ikeEncAlg"`
	IkeAuthAlg  string `json:"ikeAuthAlg"`
	IkePfs      string `json:"ikePfs"`
	IkeLifetime int64  `json:"ikeLifetime"`
	// LocalId / RemoteId empty = the defaults (gateway IP / customer gateway IP).
	LocalId  string `json:"localId,omitempty"`
	RemoteId string `json:"remoteId,omitempty"`
}

// IpsecConfig is phase 2.
type IpsecConfig struct {
	IpsecEncAlg   string `json:"ipsecEncAlg"`
	IpsecAuthAlg  string `json:"ipsecAuthAlg"`
	IpsecPfs      string `json:"ipsecPfs"`
	IpsecLifetime int64  `json:"ipsecLifetime"`
}

// BgpConfig is BGP over the tunnel.
type BgpConfig struct {
	EnableBgp  bool   `json:"enableBgp"`
	LocalAsn   int64  `json:"localAsn"`
	TunnelCidr string `json:"tunnelCidr,omitempty"`
	LocalBgpIp string `json:"localBgpIp,omitempty"`
}

// PeerBgpIP is the other host of the /30 ("" when the record has none).
func (b BgpConfig) PeerBgpIP() string {
	p, err := netip.ParsePrefix(b.TunnelCidr)
	local, err2 := netip.ParseAddr(b.LocalBgpIp)
	if err != nil || err2 != nil {
		return ""
	}
	if peer, ok := addrs.Peer(p, local); ok {
		return peer.String()
	}
	return ""
}

// HealthCheck probes the connection.
type HealthCheck struct {
	Enable   bool   `json:"enable"`
	Dip      string `json:"dip,omitempty"`
	Sip      string `json:"sip,omitempty"`
	Interval int64  `json:"interval"`
	Retry    int64  `json:"retry"`
	Policy   string `json:"policy"`
}

// The API's defaults are what vpc-20160428's CreateVpnAttachment request model documents
// for a single-tunnel connection: a device configured from the API documentation then
// negotiates with a connection created without those fields. The product page preselects
// other values (IKEv2, SHA1); the console and `opencen tr connect-vpn` send those
// explicitly (PageIke, PageIpsec). docs/api.md lists every default with its source.

// DefaultIke is phase 1 for fields a request omits: ikev1, main, aes, md5, group2, 86400 s.
func DefaultIke() IkeConfig {
	return IkeConfig{IkeVersion: "ikev1", IkeMode: "main", IkeEncAlg: "aes", IkeAuthAlg: "md5", IkePfs: "group2", IkeLifetime: 86400}
}

// DefaultIpsec is phase 2 for fields a request omits: aes, md5, PFS group2, 86400 s.
func DefaultIpsec() IpsecConfig {
	return IpsecConfig{IpsecEncAlg: "aes", IpsecAuthAlg: "md5", IpsecPfs: "group2", IpsecLifetime: 86400}
}

// PageIke is phase 1 as the product page preselects it (IKEv2, SHA1).
func PageIke() IkeConfig {
	c := DefaultIke()
	c.IkeVersion, c.IkeAuthAlg = "ikev2", "sha1"
	return c
}

// PageIpsec is phase 2 as the product page preselects it (SHA1).
func PageIpsec() IpsecConfig {
	c := DefaultIpsec()
	c.IpsecAuthAlg = "sha1"
	return c
}

// DefaultBgp is BgpConfig for fields a request omits (BGP off, local ASN 45104).
func DefaultBgp() BgpConfig { return BgpConfig{LocalAsn: DefaultLocalASN} }

// DefaultHealthCheck is HealthCheckConfig for fields a request omits (off, every 3 s, 3
// retries, revoke_route).
func DefaultHealthCheck() HealthCheck {
	return HealthCheck{Interval: 3, Retry: 3, Policy: "revoke_route"}
}

// Allowed values.
var (
	IkeVersions = []string{"ikev1", "ikev2"}
	IkeModes    = []string{"main", "aggressive"}
	EncAlgs     = []string{"aes", "aes192", "aes256", "des", "3des"}
	AuthAlgs    = []string{"sha1", "md5", "sha256", "sha384", "sha512"}
	IkeDHGroups = []string{"group1", "group2", "group5", "group14"}
	PfsGroups   = []string{"disabled", "group1", "group2", "group5", "group14"}
	HCPolicies  = []string{"revoke_route", "reserve_route"}
)

// IkeInput is IkeConfig as sent; nil fields are not given.
type IkeInput struct {
	Psk, IkeVersion, IkeMode, IkeEncAlg, IkeAuthAlg, IkePfs *string
	IkeLifetime                                             *int64
	LocalId, RemoteId                                       *string
}

// IpsecInput is IpsecConfig as sent.
type IpsecInput struct {
	IpsecEncAlg, IpsecAuthAlg, IpsecPfs *string
	IpsecLifetime                       *int64
}

// BgpInput is BgpConfig as sent. LocalAsn is text so "123.456" works.
type BgpInput struct {
	EnableBgp              *bool
	LocalAsn               *string
	TunnelCidr, LocalBgpIp *string
}

// HealthCheckInput is HealthCheckConfig as sent (keys are matched case-insensitively).
type HealthCheckInput struct {
	Enable          *bool
	Dip, Sip        *string
	Interval, Retry *int64
	Policy          *string
}

func oneOf(param, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return apierr.Invalid(param, "%s must be one of %s; got %q.", param, apierr.Text(strings.Join(allowed, ", ")), v)
	}
	return nil
}

func lifetime(param string, v int64) error {
	if v < 0 || v > 86400 {
		return apierr.Invalid(param, "%s must be 0 to 86400 seconds; got %d.", param, v)
	}
	return nil
}

// pskSymbols are the symbols a pre-shared key may hold: the vpc-20160428 SDK model lists
// ~!`@#$%^&*()_-+={}[]|;:",.<>/? and the aliyun CLI's API metadata the same set with '
// for ", so both quotes are accepted.
const pskSymbols = "~!`@#$%^&*()_-+={}[]|;:\"',.<>/?"

// CheckPSK enforces 1 to 100 characters: letters, digits and the listed symbols.
func CheckPSK(param, v string) error {
	if v == "" || utf8.RuneCountInString(v) > 100 {
		return apierr.Invalid(param, "%s must be 1 to 100 characters long; got %d.", param, utf8.RuneCountInString(v))
	}
	for _, r := range v {
		ok := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || strings.ContainsRune(pskSymbols, r)
		if !ok {
			return apierr.Invalid(param, "%s may contain letters, digits and %s only (no spaces); %q is not allowed.", param, pskSymbols, r)
		}
	}
	return nil
}

// NewPSK generates the 16-character key used when none is given.
func NewPSK() string {
	return randomString(16, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
}

// CheckIdentity validates LocalId / RemoteId: IP or FQDN, at most 100 characters, no spaces.
func CheckIdentity(param, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 100 || strings.ContainsAny(v, " \t\r\n") {
		return apierr.Invalid(param, "%s must be an IP address or FQDN of at most 100 characters without spaces.", param)
	}
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Zone() != "" {
			return apierr.Invalid(param, "%s %q must not carry an IPv6 zone.", param, v)
		}
		return nil
	}
	labels := strings.Split(strings.TrimPrefix(v, "@"), ".")
	numeric := true
	for _, label := range labels {
		numeric = numeric && label != "" && strings.Trim(label, "0123456789") == ""
	}
	if numeric {
		return apierr.Invalid(param, "%s %q is not a valid IP address.", param, v)
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return apierr.Invalid(param, "%s %q is neither an IP address nor an FQDN (labels of 1 to 63 characters separated by dots).", param, v)
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
				return apierr.Invalid(param, "%s %q is neither an IP address nor an FQDN.", param, v)
			}
		}
	}
	return nil
}

// Apply merges the given fields over base and validates the result.
func (in IkeInput) Apply(base IkeConfig) (IkeConfig, error) { return in.ApplyAt("IkeConfig", base) }

// ApplyAt is Apply for the config named param in errors ("IkeConfig", or a tunnel's
// "TunnelOptionsSpecification.1.TunnelIkeConfig").
func (in IkeInput) ApplyAt(param string, base IkeConfig) (IkeConfig, error) {
	c := base
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Psk, in.Psk)
	set(&c.IkeVersion, in.IkeVersion)
	set(&c.IkeMode, in.IkeMode)
	set(&c.IkeEncAlg, in.IkeEncAlg)
	set(&c.IkeAuthAlg, in.IkeAuthAlg)
	set(&c.IkePfs, in.IkePfs)
	set(&c.LocalId, in.LocalId)
	set(&c.RemoteId, in.RemoteId)
	if in.IkeLifetime != nil {
		c.IkeLifetime = *in.IkeLifetime
	}
	if in.Psk != nil {
		if err := CheckPSK(param+".Psk", c.Psk); err != nil {
			return c, err
		}
	}
	for _, chk := range []error{
		oneOf(param+".IkeVersion", c.IkeVersion, IkeVersions),
		oneOf(param+".IkeMode", c.IkeMode, IkeModes),
		oneOf(param+".IkeEncAlg", c.IkeEncAlg, EncAlgs),
		oneOf(param+".IkeAuthAlg", c.IkeAuthAlg, AuthAlgs),
		oneOf(param+".IkePfs", c.IkePfs, IkeDHGroups),
		lifetime(param+".IkeLifetime", c.IkeLifetime),
		CheckIdentity(param+".LocalId", c.LocalId),
		CheckIdentity(param+".RemoteId", c.RemoteId),
	} {
		if chk != nil {
			return c, chk
		}
	}
	return c, nil
}

// Apply merges the given fields over base and validates the result.
func (in IpsecInput) Apply(base IpsecConfig) (IpsecConfig, error) {
	return in.ApplyAt("IpsecConfig", base)
}

// ApplyAt is Apply for the config named param in errors.
func (in IpsecInput) ApplyAt(param string, base IpsecConfig) (IpsecConfig, error) {
	c := base
	if in.IpsecEncAlg != nil {
		c.IpsecEncAlg = *in.IpsecEncAlg
	}
	if in.IpsecAuthAlg != nil {
		c.IpsecAuthAlg = *in.IpsecAuthAlg
	}
	if in.IpsecPfs != nil {
		c.IpsecPfs = *in.IpsecPfs
	}
	if in.IpsecLifetime != nil {
		c.IpsecLifetime = *in.IpsecLifetime
	}
	for _, chk := range []error{
		oneOf(param+".IpsecEncAlg", c.IpsecEncAlg, EncAlgs),
		oneOf(param+".IpsecAuthAlg", c.IpsecAuthAlg, AuthAlgs),
		oneOf(param+".IpsecPfs", c.IpsecPfs, PfsGroups),
		lifetime(param+".IpsecLifetime", c.IpsecLifetime),
	} {
		if chk != nil {
			return c, chk
		}
	}
	return c, nil
}

// ParseASN reads an ASN as a number 1..4294967295 or as "high.low" (asdot).
func ParseASN(param, v string) (int64, error) {
	bad := func() (int64, error) {
		return 0, apierr.Invalid(param, "%s must be 1 to 4294967295, or two 16-bit numbers as high.low (123.456 = 8061384); got %q.", param, v)
	}
	if hi, lo, ok := strings.Cut(v, "."); ok {
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		if err1 != nil || err2 != nil || h*65536+l == 0 {
			return bad()
		}
		return int64(h*65536 + l), nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return bad()
	}
	return int64(n), nil
}

var reservedTunnelCidrs = []string{
	"169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30",
	"169.254.4.0/30", "169.254.5.0/30", "169.254.6.0/30", "169.254.169.252/30",
}

var linkLocal = netip.MustParsePrefix("169.254.0.0/16")

// Apply merges the given fields over base and validates the result. Uniqueness of the
// tunnel CIDR within a transit router and the customer gateway's ASN are checked by the
// service, which sees the other objects.
func (in BgpInput) Apply(base BgpConfig) (BgpConfig, error) { return in.ApplyAt("BgpConfig", base) }

// ApplyAt is Apply for the config named param in errors.
func (in BgpInput) ApplyAt(param string, base BgpConfig) (BgpConfig, error) {
	c := base
	if in.EnableBgp != nil {
		c.EnableBgp = *in.EnableBgp
	}
	if in.LocalAsn != nil && *in.LocalAsn != "" {
		asn, err := ParseASN(param+".LocalAsn", *in.LocalAsn)
		if err != nil {
			return c, err
		}
		c.LocalAsn = asn
	}
	if in.TunnelCidr != nil {
		c.TunnelCidr = *in.TunnelCidr
	}
	if in.LocalBgpIp != nil {
		c.LocalBgpIp = *in.LocalBgpIp
	}
	if !c.EnableBgp && c.TunnelCidr == "" && c.LocalBgpIp == "" {
		return c, nil
	}
	if c.TunnelCidr == "" {
		return c, apierr.Missing(param + ".TunnelCidr")
	}
	p, err := netip.ParsePrefix(c.TunnelCidr)
	if err != nil || !p.Addr().Is4() || p.Bits() != 30 || p.Masked() != p || !linkLocal.Contains(p.Addr()) {
		return c, apierr.Invalid(param+".TunnelCidr", "%s.TunnelCidr must be a /30 network inside 169.254.0.0/16, such as 169.254.11.0/30; got %q.", param, c.TunnelCidr)
	}
	if slices.Contains(reservedTunnelCidrs, p.String()) {
		return c, apierr.Invalid(param+".TunnelCidr", "%s.TunnelCidr %s is reserved; 169.254.0.0/30 to 169.254.6.0/30 and 169.254.169.252/30 cannot be used.", param, p)
	}
	if c.LocalBgpIp == "" {
		return c, apierr.Missing(param + ".LocalBgpIp")
	}
	ip, err := netip.ParseAddr(c.LocalBgpIp)
	first := p.Addr().Next()
	if err != nil || (ip != first && ip != first.Next()) {
		return c, apierr.Invalid(param+".LocalBgpIp", "%s.LocalBgpIp must be one of the two host addresses of %s (%s or %s); got %q.", param, p, first, first.Next(), c.LocalBgpIp)
	}
	return c, nil
}

// Apply merges the given fields over base and validates the result.
func (in HealthCheckInput) Apply(base HealthCheck) (HealthCheck, error) {
	c := base
	if in.Enable != nil {
		c.Enable = *in.Enable
	}
	if in.Dip != nil {
		c.Dip = *in.Dip
	}
	if in.Sip != nil {
		c.Sip = *in.Sip
	}
	// 0 means "not set": older Terraform providers send the whole block with zeros.
	if in.Interval != nil && *in.Interval != 0 {
		c.Interval = *in.Interval
	}
	if in.Retry != nil && *in.Retry != 0 {
		c.Retry = *in.Retry
	}
	if in.Policy != nil {
		c.Policy = *in.Policy
	}
	if c.Interval < 1 || c.Interval > 3600 {
		return c, apierr.Invalid("HealthCheckConfig.Interval", "HealthCheckConfig.Interval must be 1 to 3600 seconds; got %d.", c.Interval)
	}
	if c.Retry < 1 || c.Retry > 100 {
		return c, apierr.Invalid("HealthCheckConfig.Retry", "HealthCheckConfig.Retry must be 1 to 100; got %d.", c.Retry)
	}
	if err := oneOf("HealthCheckConfig.Policy", c.Policy, HCPolicies); err != nil {
		return c, err
	}
	for _, f := range []struct{ param, v string }{{"HealthCheckConfig.Dip", c.Dip}, {"HealthCheckConfig.Sip", c.Sip}} {
		if f.v == "" {
			if !c.Enable {
				continue
			}
			return c, apierr.Missing(f.param)
		}
		if a, err := netip.ParseAddr(f.v); err != nil || !a.Is4() {
			return c, apierr.Invalid(f.param, "%s must be an IPv4 address; got %q.", f.param, f.v)
		}
	}
	if c.Enable && c.Dip == c.Sip {
		return c, apierr.Invalid("HealthCheckConfig.Dip", "HealthCheckConfig.Dip and Sip must differ.")
	}
	return c, nil
}

// MaxSubnets bounds LocalSubnet / RemoteSubnet lists.
const MaxSubnets = 10

// AllIPv4 is the destination-routing selector.
const AllIPv4 = "0.0.0.0/0"

// ParseSubnets reads a comma-separated CIDR list. Destination routing is exactly
// "0.0.0.0/0"; flow protection lists specific blocks (0.0.0.0/0 cannot be mixed in).
func ParseSubnets(param, v string) ([]netip.Prefix, error) {
	if strings.TrimSpace(v) == "" {
		return nil, apierr.Missing(param)
	}
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			return nil, apierr.Invalid(param, "%s must be comma-separated IPv4 CIDR blocks such as 10.0.0.0/16,10.1.0.0/16; %q is not one.", param, strings.TrimSpace(s))
		}
		if p.Masked() != p {
			return nil, apierr.Invalid(param, "%s: %s has host bits set; did you mean %s?", param, p, p.Masked())
		}
		if slices.Contains(out, p) {
			return nil, apierr.Invalid(param, "%s lists %s twice.", param, p)
		}
		out = append(out, p)
	}
	if len(out) > MaxSubnets {
		return nil, apierr.Invalid(param, "%s may list at most %d CIDR blocks; got %d.", param, MaxSubnets, len(out))
	}
	if len(out) > 1 && slices.Contains(out, netip.MustParsePrefix(AllIPv4)) {
		return nil, apierr.Invalid(param, "%s cannot mix 0.0.0.0/0 with other blocks; use 0.0.0.0/0 alone for destination routing.", param)
	}
	return out, nil
}

// JoinSubnets renders a list as the API shows it.
func JoinSubnets(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Customer gateway address rules.
var cgwForbidden = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.0.0.0/8"),
}

// CheckGatewayIP validates a customer gateway's IpAddress.
func CheckGatewayIP(param, v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return netip.Addr{}, apierr.Invalid(param, "%s must be an IPv4 address; got %q.", param, v)
	}
	for _, f := range cgwForbidden {
		if f.Contains(a) {
			return netip.Addr{}, apierr.Invalid(param, "%s %s is in the reserved range %s; 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 and 255.0.0.0/8 are not allowed.", param, a, f)
		}
	}
	if a.IsUnspecified() {
		return netip.Addr{}, apierr.Invalid(param, "%s must not be 0.0.0.0.", param)
	}
	return a, nil
}

// CheckCustomerASN validates a customer gateway's ASN (45104 is the cloud's own).
func CheckCustomerASN(param, v string) (int64, error) {
	asn, err := ParseASN(param, v)
	if err != nil {
		return 0, err
	}
	if asn == DefaultLocalASN {
		return 0, apierr.Invalid(param, "%s 45104 is reserved for the cloud side; use another ASN (a private one, 64512-65534 or 4200000000-4294967294, is recommended).", param)
	}
	return asn, nil
}

// CheckAuthKey validates a BGP MD5 key: 1 to 64 ASCII characters, no spaces or '?'.
func CheckAuthKey(param, v string) error {
	if v == "" || len(v) > 64 {
		return apierr.Invalid(param, "%s must be 1 to 64 characters long; got %d.", param, len(v))
	}
	for _, r := range v {
		if r <= ' ' || r > '~' || r == '?' {
			return apierr.Invalid(param, "%s may contain printable ASCII characters except spaces and '?'.", param)
		}
	}
	return nil
}
