// Package bss serves the part of BssOpenApi 2017-12-14 (the cloud's billing API) that cost
// tools call for the instances OpenCEN bills: QueryInstanceBill and DescribeInstanceBill,
// computed from the hourly usage records and the configured price sheet
// (service.Bill). Response fields follow the SDK's models; those with no meaning here
// (discounts, coupons, resource groups) are zero or empty.
package bss

import (
	"context"
	"strconv"
	"time"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// Version of BssOpenApi served.
const Version = "2017-12-14"

// Product returns the BssOpenApi product.
func Product(svc *service.Service) *rpc.Product {
	h := handlers{svc}
	return &rpc.Product{Name: "BssOpenApi", Version: Version, Host: "business.aliyuncs.com", Actions: map[string]rpc.Handler{
		"QueryInstanceBill":    h.queryInstanceBill,
		"DescribeInstanceBill": h.describeInstanceBill,
	}}
}

type handlers struct{ svc *service.Service }

// Granularities of a bill query.
const (
	monthly = "MONTHLY"
	daily   = "DAILY"
)

// query reads the parameters both actions share.
func query(r *rpc.Request) (service.BillQuery, error) {
	p := r.Params
	var q service.BillQuery
	cycle := p["BillingCycle"]
	if cycle == "" {
		return q, apierr.Missing("BillingCycle")
	}
	c, err := time.Parse("2006-01", cycle)
	if err != nil {
		return q, apierr.Invalid("BillingCycle", "BillingCycle must be a month as YYYY-MM (such as 2026-11), got %q.", cycle)
	}
	q.Cycle = c
	switch g := p["Granularity"]; g {
	case "", monthly:
	case daily:
		q.Daily = true
	default:
		return q, apierr.Invalid("Granularity", "Granularity must be MONTHLY or DAILY, got %q.", g)
	}
	if d := p["BillingDate"]; d != "" {
		day, err := time.Parse("2006-01-02", d)
		if err != nil {
			return q, apierr.Invalid("BillingDate", "BillingDate must be a day as YYYY-MM-DD, got %q.", d)
		}
		if day.Year() != c.Year() || day.Month() != c.Month() {
			return q, apierr.Invalid("BillingDate", "BillingDate %s is not in the BillingCycle %s.", d, cycle)
		}
		if !q.Daily {
			return q, apierr.Invalid("BillingDate", "BillingDate is for Granularity DAILY; give Granularity=DAILY or leave BillingDate out.")
		}
		q.Date = day
	} else if q.Daily {
		return q, apierr.New("MissingBillingDate", "Granularity DAILY needs a BillingDate (YYYY-MM-DD).")
	}
	if q.ByItem, _, err = p.Bool("IsBillingItem"); err != nil {
		return q, err
	}
	if q.HideZero, _, err = p.Bool("IsHideZeroCharge"); err != nil {
		return q, err
	}
	q.ProductCode, q.InstanceID = p["ProductCode"], p["InstanceID"]
	if st := p["SubscriptionType"]; st != "" && st != "PayAsYouGo" && st != "Subscription" {
		return q, apierr.Invalid("SubscriptionType", "SubscriptionType must be Subscription or PayAsYouGo, got %q.", st)
	}
	caller := api.Caller(r)
	if owner := p["BillOwnerId"]; owner != "" {
		if !caller.Admin && owner != caller.AccountID {
			// Another account's bill is reported like no bill at all would be: not found.
			return q, apierr.New("InvalidBillOwnerId.NotFound", "The account %s is not yours to query; leave BillOwnerId out for your own bill.", owner)
		}
		q.Account = owner
	}
	return q, nil
}

// lines runs q, or nothing when SubscriptionType asks for subscriptions (all of OpenCEN's
// items are pay-as-you-go).
func (h handlers) lines(ctx context.Context, r *rpc.Request, q service.BillQuery) ([]service.BillLine, error) {
	if r.Params["SubscriptionType"] == "Subscription" {
		return nil, nil
	}
	return h.svc.Bill(ctx, api.Caller(r), q)
}

func envelope(data rpc.Object) rpc.Object {
	return rpc.Object{"Code": "Success", "Message": "Successful!", "Success": true, "Data": data}
}

// accountOf is the account a bill answer is about: the one asked for, else the caller.
func accountOf(r *rpc.Request, q service.BillQuery) string {
	if q.Account != "" {
		return q.Account
	}
	return r.Identity.AccountID
}

func (h handlers) queryInstanceBill(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	num, set, err := r.Params.Int("PageNum", 1, 1<<31-1)
	if err != nil {
		return nil, err
	}
	if !set {
		num = 1
	}
	size, set, err := r.Params.Int("PageSize", 1, 300)
	if err != nil {
		return nil, err
	}
	if !set {
		size = 20
	}
	lines, err := h.lines(ctx, r, q)
	if err != nil {
		return nil, err
	}
	page := api.PageOf(lines, api.Page{Number: int(num), Size: int(size)})
	items := make([]rpc.Object, 0, len(page))
	for _, l := range page {
		items = append(items, item(l, q))
	}
	return envelope(rpc.Object{"AccountID": accountOf(r, q), "AccountName": accountName(lines, accountOf(r, q)),
		"BillingCycle": q.Cycle.Format("2006-01"), "PageNum": num, "PageSize": size, "TotalCount": len(lines),
		"Items": rpc.Object{"Item": items}}), nil
}

func (h handlers) describeInstanceBill(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	tp, err := api.TokenParams(r.Params, "MaxResults", 20, 300)
	if err != nil {
		return nil, err
	}
	lines, err := h.lines(ctx, r, q)
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(lines, tp)
	items := make([]rpc.Object, 0, len(page))
	for _, l := range page {
		it := item(l, q)
		it["BillAccountID"], it["BillAccountName"] = l.Account, l.AccountName
		it["BillingItemCode"], it["ItemName"] = l.Item, itemName(l.Item)
		it["BizType"] = ""
		items = append(items, it)
	}
	return envelope(rpc.Object{"AccountID": accountOf(r, q), "AccountName": accountName(lines, accountOf(r, q)),
		"BillingCycle": q.Cycle.Format("2006-01"), "MaxResults": tp.Max, "NextToken": next, "TotalCount": len(lines),
		"Items": items}), nil
}

// accountName names account from the lines (which carry their account's name) or "".
func accountName(lines []service.BillLine, account string) string {
	for _, l := range lines {
		if l.Account == account {
			return l.AccountName
		}
	}
	return ""
}

// itemName is a billable item's name as bills show it.
func itemName(code string) string {
	return model.ItemNames[code]
}

// item is a bill line in the SDK's Item model (QueryInstanceBill's; DescribeInstanceBill's
// adds a few fields).
func item(l service.BillLine, q service.BillQuery) rpc.Object {
	date := ""
	if q.Daily {
		date = l.Date.Format("2006-01-02")
	}
	usage, unit, listPrice, listUnit := "", "", "", ""
	if l.Item != "" {
		usage, unit = strconv.FormatFloat(l.Usage, 'f', -1, 64), l.Unit
		listPrice, listUnit = strconv.FormatFloat(l.ListPrice, 'f', -1, 64), l.Currency+"/"+l.Unit
	}
	return rpc.Object{
		"BillingDate": date, "BillingItem": itemName(l.Item), "BillingType": "Normal", "Currency": l.Currency,
		"InstanceID": l.Instance, "InstanceConfig": "", "InstanceSpec": l.InstanceType, "InternetIP": "", "IntranetIP": "",
		"Item": "PayAsYouGoBill", "ListPrice": listPrice, "ListPriceUnit": listUnit, "NickName": "", "OwnerID": l.Account,
		"PretaxGrossAmount": l.Amount, "PretaxAmount": l.Amount, "PaymentAmount": l.Amount, "CashAmount": l.Amount,
		"AdjustAmount": 0, "InvoiceDiscount": 0, "DeductedByCashCoupons": 0, "DeductedByCoupons": 0, "DeductedByPrepaidCard": 0,
		"DeductedByResourcePackage": "", "OutstandingAmount": 0,
		"ProductCode": l.ProductCode, "ProductName": service.ProductName(l.ProductCode), "ProductType": "", "ProductDetail": service.ProductName(l.ProductCode),
		"PipCode": l.ProductCode, "CommodityCode": l.ProductCode, "CostUnit": "", "ResourceGroup": "", "Tag": "",
		"Region": l.Region, "Zone": "", "ServicePeriod": "", "ServicePeriodUnit": "", "SubscriptionType": "PayAsYouGo",
		"Usage": usage, "UsageUnit": unit,
	}
}
