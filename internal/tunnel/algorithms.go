package tunnel

import (
	"fmt"
	"strings"
)

// Enc, Auth and DH are the product's algorithm names (what the API takes and shows); each
// maps to one strongSwan keyword. The tables are the only place that mapping exists.
type (
	Enc  string
	Auth string
	DH   string
)

// DHNone is "no DH group": PFS disabled (ESP only).
const DHNone DH = "disabled"

var (
	encKeywords = map[Enc]string{"aes": "aes128", "aes192": "aes192", "aes256": "aes256", "des": "des", "3des": "3des"}
	// Order of the product page, for messages.
	encNames     = []Enc{"aes", "aes192", "aes256", "des", "3des"}
	authKeywords = map[Auth]string{"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
	authNames    = []Auth{"md5", "sha1", "sha256", "sha384", "sha512"}
	dhKeywords   = map[DH]string{"group1": "modp768", "group2": "modp1024", "group5": "modp1536", "group14": "modp2048"}
	dhNames      = []DH{"group1", "group2", "group5", "group14"}
)

// Keyword is the strongSwan proposal keyword ("aes" is AES-128).
func (e Enc) Keyword() string { return encKeywords[e] }

// Keyword is the strongSwan proposal keyword.
func (a Auth) Keyword() string { return authKeywords[a] }

// Keyword is the strongSwan proposal keyword (a MODP group); "" for DHNone.
func (d DH) Keyword() string { return dhKeywords[d] }

func names[T ~string](ts []T) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func parseEnc(v string) (Enc, error) {
	if _, ok := encKeywords[Enc(v)]; !ok {
		return "", fmt.Errorf("%q is not an encryption algorithm OpenCEN offers; use one of %s", v, names(encNames))
	}
	return Enc(v), nil
}

func parseAuth(v string) (Auth, error) {
	if _, ok := authKeywords[Auth(v)]; !ok {
		return "", fmt.Errorf("%q is not an authentication algorithm OpenCEN offers; use one of %s", v, names(authNames))
	}
	return Auth(v), nil
}

// parseDH reads a DH group; pfs allows "disabled" (phase 2 only).
func parseDH(v string, pfs bool) (DH, error) {
	if pfs && DH(v) == DHNone {
		return DHNone, nil
	}
	if _, ok := dhKeywords[DH(v)]; !ok {
		allowed := names(dhNames)
		if pfs {
			allowed = string(DHNone) + ", " + allowed
		}
		return "", fmt.Errorf("%q is not a DH group OpenCEN offers; use one of %s", v, allowed)
	}
	return DH(v), nil
}
