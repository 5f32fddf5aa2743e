package service

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

// TagType is a taggable resource type of one product.
type TagType struct {
	Name string // as the API spells it in responses
	Kind string
}

// Taggable resource types per product, matched case-insensitively.
var tagTypes = map[string]map[string]TagType{
	"Cbn": {
		"cen":                        {"Cen", model.KindCEN},
		"transitrouter":              {"TransitRouter", model.KindTR},
		"transitrouterroutetable":    {"TransitRouterRouteTable", model.KindRouteTable},
		"transitroutervpnattachment": {"TransitRouterVpnAttachment", model.KindVpnAttachment},
		"transitroutervpcattachment": {"TransitRouterVpcAttachment", model.KindVpcAttachment},
	},
	"Vpc": {
		"vpnattachment":   {"VPNATTACHMENT", model.KindVpnConnection},
		"vpnconnection":   {"VPNCONNECTION", model.KindVpnConnection},
		"customergateway": {"CUSTOMERGATEWAY", model.KindCustomerGateway},
		"vpc":             {"VPC", model.KindVPC},
		"vswitch":         {"VSWITCH", model.KindVSwitch},
	},
}

// lookupTagType resolves a request's ResourceType.
func lookupTagType(product, resourceType string) (TagType, error) {
	if resourceType == "" {
		return TagType{}, apierr.Missing("ResourceType")
	}
	tt, ok := tagTypes[product][strings.ToLower(resourceType)]
	if !ok {
		var names []string
		for _, t := range tagTypes[product] {
			names = append(names, t.Name)
		}
		sort.Strings(names)
		return TagType{}, apierr.Invalid("ResourceType", "ResourceType %q cannot be tagged here; use one of: %s.", resourceType, apierr.Text(strings.Join(names, ", ")))
	}
	return tt, nil
}

// MaxTagResourceIDs is the most resources one tag call may name.
const MaxTagResourceIDs = 50

func checkTagIDs(ids []string) error {
	if len(ids) == 0 {
		return apierr.Missing("ResourceId.1")
	}
	if len(ids) > MaxTagResourceIDs {
		return apierr.Invalid("ResourceId", "At most %d ResourceId values may be given; got %d.", MaxTagResourceIDs, len(ids))
	}
	return nil
}

// taggedNotFound is the error for an unknown ID in a tag call.
func taggedNotFound(tt TagType, id string) *apierr.Error {
	return apierr.New("InvalidResourceId.NotFound", "The %s %s does not exist.", tt.Name, id)
}

// editTags rewrites the tags of resources of one type, all or nothing.
func (s *Service) editTags(ctx context.Context, c Caller, product, resourceType string, ids []string, edit func([]model.Tag) ([]model.Tag, error)) error {
	tt, err := lookupTagType(product, resourceType)
	if err != nil {
		return err
	}
	if err := checkTagIDs(ids); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		for _, id := range ids {
			key := resKey(tt.Kind, id)
			var doc map[string]json.RawMessage
			var meta model.Meta
			raw, ok, err := t.getRaw(key)
			if err != nil {
				return err
			}
			if !ok || json.Unmarshal(raw, &doc) != nil || json.Unmarshal(raw, &meta) != nil || meta.Owner != c.AccountID {
				return taggedNotFound(tt, id)
			}
			tags, err := edit(meta.Tags)
			if err != nil {
				return err
			}
			if len(tags) > model.MaxTags {
				return apierr.New("QuotaExceeded.TagNum", "The %s %s would have %d tags; a resource has at most %d.", tt.Name, id, len(tags), model.MaxTags)
			}
			if len(tags) == 0 {
				delete(doc, "tags")
			} else if doc["tags"], err = json.Marshal(tags); err != nil {
				return err
			}
			if err := t.put(key, doc); err != nil {
				return err
			}
		}
		return nil
	})
}

// TagResources adds or replaces tags on resources.
func (s *Service) TagResources(ctx context.Context, c Caller, product, resourceType string, ids []string, tags []model.Tag) error {
	if len(tags) == 0 {
		return apierr.Missing("Tag.1.Key")
	}
	if err := model.CheckTags("Tag", tags); err != nil {
		return err
	}
	return s.editTags(ctx, c, product, resourceType, ids, func(have []model.Tag) ([]model.Tag, error) {
		return model.MergeTags(have, tags), nil
	})
}

// UntagResources removes tags by key, or all of them.
func (s *Service) UntagResources(ctx context.Context, c Caller, product, resourceType string, ids, keys []string, all bool) error {
	if len(keys) == 0 && !all {
		return apierr.Missing("TagKey.1")
	}
	if len(keys) > model.MaxTags {
		return apierr.Invalid("TagKey", "At most %d TagKey values may be given; got %d.", model.MaxTags, len(keys))
	}
	return s.editTags(ctx, c, product, resourceType, ids, func(have []model.Tag) ([]model.Tag, error) {
		return model.RemoveTags(have, keys, all), nil
	})
}

// TagResource is one (resource, tag) pair of ListTagResources.
type TagResource struct {
	ResourceID, ResourceType, Key, Value string
}

// ListTagResources lists tags of the caller's resources of one type, filtered by IDs
// and/or tags; ordered by resource ID then key.
func (s *Service) ListTagResources(ctx context.Context, c Caller, product, resourceType string, ids []string, filter []model.Tag) ([]TagResource, error) {
	tt, err := lookupTagType(product, resourceType)
	if err != nil {
		return nil, err
	}
	if len(ids) > MaxTagResourceIDs {
		return nil, apierr.Invalid("ResourceId", "At most %d ResourceId values may be given; got %d.", MaxTagResourceIDs, len(ids))
	}
	if err := model.CheckTags("Tag", filter); err != nil {
		return nil, err
	}
	kvs, _, err := s.st.List(ctx, resPrefix+tt.Kind+"/")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []TagResource
	for _, kv := range kvs {
		var m model.Meta
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			return nil, err
		}
		if m.Owner != c.AccountID || (len(want) > 0 && !want[m.ID]) || !model.MatchTags(m.Tags, filter) {
			continue
		}
		tags := append([]model.Tag(nil), m.Tags...)
		sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
		for _, t := range tags {
			out = append(out, TagResource{ResourceID: m.ID, ResourceType: tt.Name, Key: t.Key, Value: t.Value})
		}
	}
	return out, nil
}
