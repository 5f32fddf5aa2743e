package api

import (
	"context"

	"opencen/internal/apierr"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// TagActions are the TagResources, untag and ListTagResources handlers of a product
// (the Vpc product spells the untag action UnTagResources, Cbn UntagResources). Their
// ListTagResources pages differ too: Cbn by PageSize (1-50, default 10), Vpc by
// MaxResults (1-50, default 50).
func TagActions(svc *service.Service, product string) (tag, untag, list rpc.Handler) {
	sizeParam, sizeDefault := "PageSize", 10
	if product == "Vpc" {
		sizeParam, sizeDefault = "MaxResults", 50
	}
	tag = func(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
		p := r.Params
		tags, _, err := Tags(p)
		if err != nil {
			return nil, err
		}
		ids, err := p.List("ResourceId")
		if err != nil {
			return nil, err
		}
		return rpc.Object{}, svc.TagResources(ctx, Caller(r), product, p["ResourceType"], ids, tags)
	}
	untag = func(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
		p := r.Params
		all, _, err := p.Bool("All")
		if err != nil {
			return nil, err
		}
		ids, err := p.List("ResourceId")
		if err != nil {
			return nil, err
		}
		keys, err := p.List("TagKey")
		if err != nil {
			return nil, err
		}
		return rpc.Object{}, svc.UntagResources(ctx, Caller(r), product, p["ResourceType"], ids, keys, all)
	}
	list = func(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
		p := r.Params
		tp, err := TokenParams(p, sizeParam, sizeDefault, 50)
		if err != nil {
			return nil, err
		}
		filter, _, err := Tags(p)
		if err != nil {
			return nil, err
		}
		ids, err := p.List("ResourceId")
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 && len(filter) == 0 {
			return nil, apierr.Missing("ResourceId.1")
		}
		all, err := svc.ListTagResources(ctx, Caller(r), product, p["ResourceType"], ids, filter)
		if err != nil {
			return nil, err
		}
		page, next := TokenPageOf(all, tp)
		items := []rpc.Object{}
		for _, t := range page {
			items = append(items, rpc.Object{"ResourceId": t.ResourceID, "ResourceType": t.ResourceType, "TagKey": t.Key, "TagValue": t.Value})
		}
		return rpc.Object{"NextToken": next, "TagResources": rpc.Object{"TagResource": items}}, nil
	}
	return tag, untag, list
}
