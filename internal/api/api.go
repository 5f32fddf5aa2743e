// Package api holds what the product handlers share: paging styles, tags and caller mapping.
package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// Caller maps the authenticated identity to the service's caller.
func Caller(r *rpc.Request) service.Caller {
	return service.Caller{AccountID: r.Identity.AccountID, Admin: r.Identity.Admin}
}

// PageAndTags reads a Describe action's page (PageNumber, PageSize: default 10, at most
// 50) and its Tag.N filter.
func PageAndTags(p rpc.Params) (Page, []model.Tag, error) {
	pg, err := PageParams(p, 10, 50)
	if err != nil {
		return pg, nil, err
	}
	tags, _, err := Tags(p)
	return pg, tags, err
}

// Page is a PageNumber/PageSize window.
type Page struct{ Number, Size int }

// PageParams reads PageNumber (default 1) and PageSize (default def, 1..max).
func PageParams(p rpc.Params, def, max int) (Page, error) {
	n, set, err := p.Int("PageNumber", 1, 1<<31-1)
	if err != nil {
		return Page{}, err
	}
	if !set {
		n = 1
	}
	size, set, err := p.Int("PageSize", 1, int64(max))
	if err != nil {
		return Page{}, err
	}
	if !set {
		size = int64(def)
	}
	return Page{Number: int(n), Size: int(size)}, nil
}

// PageOf returns the items of page pg.
func PageOf[T any](items []T, pg Page) []T {
	start := (pg.Number - 1) * pg.Size
	if start >= len(items) {
		return nil
	}
	return items[start:min(start+pg.Size, len(items))]
}

// TokenPage is a MaxResults/NextToken window.
type TokenPage struct{ Start, Max int }

// TokenParams reads NextToken and the size parameter (MaxResults, or PageSize for
// ListTagResources) with its default and range.
func TokenParams(p rpc.Params, sizeParam string, def, max int) (TokenPage, error) {
	size, set, err := p.Int(sizeParam, 1, int64(max))
	if err != nil {
		return TokenPage{}, err
	}
	if !set {
		size = int64(def)
	}
	tp := TokenPage{Max: int(size)}
	if tok := p["NextToken"]; tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		start, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || start < 0 {
			return TokenPage{}, apierr.Invalid("NextToken", "NextToken %q was not issued by this server; pass the NextToken of the previous page, or none for the first page.", tok)
		}
		tp.Start = start
	}
	return tp, nil
}

// TokenPageOf returns the window and the NextToken for the page after it ("" at the end).
func TokenPageOf[T any](items []T, tp TokenPage) ([]T, string) {
	if tp.Start >= len(items) {
		return nil, ""
	}
	end := min(tp.Start+tp.Max, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[tp.Start:end], next
}

// Tags reads Tag.N.Key/Value, or Tags.N.Key/Value (different clients send either), in
// either array form, and says which parameter carried them.
func Tags(p rpc.Params) ([]model.Tag, string, error) {
	var tags []model.Tag
	param := "Tag"
	for _, name := range []string{"Tag", "Tags"} {
		objs, err := p.Objects(name)
		if err != nil {
			return nil, "", err
		}
		if len(objs) == 0 {
			continue
		}
		if tags != nil {
			return nil, "", apierr.Invalid("Tags", "Give tags as Tag.N or as Tags.N, not both.")
		}
		tags, param = make([]model.Tag, 0, len(objs)), name
		for _, o := range objs {
			tags = append(tags, model.Tag{Key: o.Get("Key"), Value: o.Get("Value")})
		}
	}
	return tags, param, nil
}

// TagList renders tags as CBN List* APIs do: [{Key, Value}].
func TagList(tags []model.Tag) []rpc.Object {
	out := make([]rpc.Object, 0, len(tags))
	for _, t := range tags {
		out = append(out, rpc.Object{"Key": t.Key, "Value": t.Value})
	}
	return out
}

// Bool reads an optional boolean parameter.
func Bool(p rpc.Params, name string) (*bool, error) {
	v, set, err := p.Bool(name)
	if err != nil || !set {
		return nil, err
	}
	return &v, nil
}

// SystemLinks reads RouteTableAssociationEnabled and RouteTablePropagationEnabled, which
// attachment creations take (default false).
func SystemLinks(p rpc.Params) (model.SystemLinks, error) {
	var l model.SystemLinks
	var err error
	if l.AssociateSystem, _, err = p.Bool("RouteTableAssociationEnabled"); err != nil {
		return l, err
	}
	l.PropagateSystem, _, err = p.Bool("RouteTablePropagationEnabled")
	return l, err
}

// ListParam names a list parameter and where to read it.
type ListParam struct {
	Name string
	Dst  *[]string
}

// ReadLists reads list parameters (either array form), stopping at the first error.
func ReadLists(p rpc.Params, lists ...ListParam) error {
	for _, l := range lists {
		v, err := p.List(l.Name)
		if err != nil {
			return err
		}
		*l.Dst = v
	}
	return nil
}

// Unsupported refuses parameters that ask for what OpenCEN does not offer (IPv6, DNS
// hostnames, IPAM pools ...): any value but an empty one or false. They are never ignored.
func Unsupported(p rpc.Params, names ...string) error {
	for _, n := range names {
		if v := strings.TrimSpace(p[n]); v != "" && !strings.EqualFold(v, "false") {
			return apierr.Invalid(n, "%s asks for a feature OpenCEN does not offer; leave it out (or false).", n)
		}
	}
	return nil
}

// MoveResourceGroup serves the MoveResourceGroup action of a product (Vpc, Cbn).
func MoveResourceGroup(svc *service.Service, product string) rpc.Handler {
	return func(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
		p := r.Params
		dry, err := DryRun(p)
		if err != nil {
			return nil, err
		}
		return rpc.Object{}, svc.MoveResourceGroup(ctx, Caller(r), service.MoveInput{Action: product, Region: p["RegionId"],
			ResourceType: p["ResourceType"], IDParam: "ResourceId", ID: p["ResourceId"], Group: p["NewResourceGroupId"], DryRun: dry})
	}
}

// Opt returns a pointer to a parameter's value when it is present.
func Opt(p rpc.Params, name string) *string {
	if v, ok := p.Get(name); ok {
		return &v
	}
	return nil
}

// DryRun reads the DryRun flag.
func DryRun(p rpc.Params) (bool, error) {
	v, _, err := p.Bool("DryRun")
	return v, err
}

// MaxItems bounds a list parameter.
func MaxItems(param string, items []string, max int) error {
	if len(items) > max {
		return apierr.Invalid(param, "At most %d %s values may be given; got %d.", max, param, len(items))
	}
	return nil
}

// Indexed names the n-th (1-based) element of a list parameter.
func Indexed(param string, n int, field string) string {
	if field == "" {
		return fmt.Sprintf("%s.%d", param, n)
	}
	return fmt.Sprintf("%s.%d.%s", param, n, field)
}

// AliUID renders an account ID as the int64 the SDKs declare (account IDs are below 2^53).
func AliUID(account string) int64 {
	n, _ := strconv.ParseInt(account, 10, 64)
	return n
}
