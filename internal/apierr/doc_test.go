package apierr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"opencen/internal/store"
)

// TestEveryCodeIsDocumented keeps docs/errors.md complete: each literal error code in the
// non-test sources must be listed there.
func TestEveryCodeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`(?:apierr\.New\("([A-Za-z][A-Za-z0-9.]*)"|Code:\s*"([A-Za-z][A-Za-z0-9.]*)"\s*[,}])`)
	found := 0
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
				want := "`" + m[1] + m[2] + "`"
				if strings.HasSuffix(want, ".`") { // a family completed at run time: QuotaExceeded.{Quota}
					want = strings.TrimSuffix(want, "`") + "{"
				}
				found++
				if !strings.Contains(string(doc), want) {
					t.Errorf("%s: code %s is not in docs/errors.md", path, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < 20 {
		t.Fatalf("found only %d codes: the scan is broken", found)
	}
}

func TestStatusFor(t *testing.T) {
	for code, want := range map[string]int{
		"InvalidCenId.NotFound":          404,
		"InvalidAction.NotFound":         404,
		"SignatureDoesNotMatch":          403,
		"InvalidAccessKeyId.Inactive":    403,
		"Forbidden.NotAdmin":             403,
		"InvalidSecurityToken.Malformed": 403,
		"Throttling.User":                400,
		"ServiceUnavailable":             503,
		"InternalError":                  500,
		"MissingCenId":                   400,
		"Operation.Blocking":             400,
		"DryRunOperation":                400,
	} {
		if got := StatusFor(code); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
	if e := From(os.ErrClosed); e.Code != "InternalError" || strings.Contains(e.Message, "closed") {
		t.Errorf("From(non-API error) = %+v", e)
	}
	down := fmt.Errorf("lookup key: %w", fmt.Errorf("%w: etcd get k: %w", store.ErrUnavailable, context.DeadlineExceeded))
	if e := From(down); e.Code != "ServiceUnavailable" || e.HTTPStatus() != 503 || strings.Contains(e.Message, "etcd") {
		t.Errorf("From(store unavailable) = %+v, status %d", e, e.HTTPStatus())
	}
	if c := Invalid("Tag.3.Key", "x").Code; c != "InvalidTagKey" {
		t.Errorf("Invalid code %s", c)
	}
}

// TestMessagesClipEchoedInput: a message repeats at most MaxEcho bytes of any text
// argument, so a megabyte of input cannot come back as a megabyte of error; server-side
// Text is kept whole, and short arguments are untouched.
func TestMessagesClipEchoedInput(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // multi-byte runes: the cut must stay valid UTF-8
	for name, e := range map[string]*Error{
		"New %q":     New("InvalidAction.NotFound", "The action %q is not served.", huge),
		"New %s":     New("InvalidCenId.NotFound", "The CEN %s does not exist.", huge),
		"New error":  New("InvalidParameter", "bad: %v.", errors.New(huge)),
		"New []byte": New("InvalidParameter", "bad: %s.", []byte(huge)),
		"Invalid %q": Invalid("Name", "Name %q is too long.", huge),
	} {
		if len(e.Message) > 400 {
			t.Errorf("%s: message is %d bytes", name, len(e.Message))
		}
		if !utf8.ValidString(e.Message) {
			t.Errorf("%s: clipped message is not valid UTF-8", name)
		}
		if !strings.Contains(e.Message, "(2097152 bytes)") {
			t.Errorf("%s: message %q does not say how long the input was", name, e.Message)
		}
	}
	list := Text(strings.Repeat("cn-region-x, ", 40))
	if e := Invalid("RegionId", "use one of: %s; got %q.", list, "short"); !strings.Contains(e.Message, string(list)) || !strings.Contains(e.Message, `"short"`) {
		t.Errorf("server-side Text or a short argument was altered: %q", e.Message)
	}
}
