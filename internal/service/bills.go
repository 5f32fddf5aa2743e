package service

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"opencen/internal/model"
)

// BillQuery selects bill lines: one month (Cycle), by month or by day (Date: one day, or
// every day of the month when zero), optionally one product, one instance, one account
// (the admin's query; others see their own account only), split by billable item.
type BillQuery struct {
	Cycle       time.Time
	Daily       bool
	Date        time.Time
	ProductCode string
	InstanceID  string
	Account     string
	ByItem      bool
	HideZero    bool
}

// BillLine is one line of a bill: an instance's charge in the month (or a day of it),
// for all its items or one of them.
type BillLine struct {
	Account      string
	AccountName  string
	Instance     string
	InstanceType string
	Region       string
	ProductCode  string
	// Date is the day of a daily line (zero for a monthly one).
	Date time.Time
	// Item, Unit, Usage and ListPrice are set on lines split by item.
	Item      string
	Unit      string
	Usage     float64
	ListPrice float64
	// Amount is the charge in Currency, rounded to the cent (half away from zero).
	Amount   float64
	Currency string
}

// ProductName is the name of a bill's product code.
func ProductName(code string) string {
	if code == model.ProductCbn {
		return "Cloud Enterprise Network"
	}
	return "VPN Gateway"
}

// Bill computes bill lines from the hourly usage records and the configured price sheet:
// a line's amount is the sum, over its hours and items, of usage times the unit price of
// the item in the instance's region, rounded to the cent once per line. Lines are
// ordered by account, date, instance and item.
func (s *Service) Bill(ctx context.Context, c Caller, q BillQuery) ([]BillLine, error) {
	from := time.Date(q.Cycle.Year(), q.Cycle.Month(), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	if q.Daily && !q.Date.IsZero() {
		from = time.Date(q.Date.Year(), q.Date.Month(), q.Date.Day(), 0, 0, 0, 0, time.UTC)
		to = from.AddDate(0, 0, 1)
	}
	records, err := s.Usage(ctx, c, q.Account, from, to)
	if err != nil {
		return nil, err
	}
	type lineKey struct {
		account, instance string
		date              time.Time
		item              string
	}
	lines := map[lineKey]*BillLine{}
	exact := map[lineKey]float64{}
	p := s.cfg.Pricing
	for _, u := range records {
		for _, it := range u.Items() {
			product := model.ItemProduct(it.Code)
			if (q.ProductCode != "" && q.ProductCode != product) || (q.InstanceID != "" && q.InstanceID != u.Instance) {
				continue
			}
			k := lineKey{account: u.Account, instance: u.Instance}
			if q.Daily {
				k.date = u.Hour.Truncate(24 * time.Hour)
			}
			if q.ByItem {
				k.item = it.Code
			}
			l, ok := lines[k]
			if !ok {
				l = &BillLine{Account: u.Account, Instance: u.Instance, InstanceType: u.InstanceType, Region: u.Region,
					ProductCode: product, Date: k.date, Currency: p.CurrencyCode()}
				if q.ByItem {
					l.Item, l.Unit, l.ListPrice = it.Code, it.Unit, p.Price(u.Region, it.Code)
				}
				lines[k] = l
			}
			l.Usage += it.Quantity
			exact[k] += it.Quantity * p.Price(u.Region, it.Code)
		}
	}
	names := map[string]string{}
	out := make([]BillLine, 0, len(lines))
	for k, l := range lines {
		l.Amount = math.Round(exact[k]*100) / 100
		if q.HideZero && l.Amount == 0 {
			continue
		}
		if _, ok := names[l.Account]; !ok {
			if a, err := s.account(ctx, l.Account); err == nil {
				names[l.Account] = a.Name
			}
		}
		l.AccountName = names[l.Account]
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b BillLine) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), a.Date.Compare(b.Date), cmp.Compare(a.Instance, b.Instance),
			cmp.Compare(slices.Index(model.BillingItems, a.Item), slices.Index(model.BillingItems, b.Item)))
	})
	return out, nil
}

// TrafficPoint is the traffic of one interval of a series.
type TrafficPoint struct {
	Start time.Time
	Traffic
}

// ConnectionTraffic is the traffic of an IPsec-VPN connection the caller owns (the admin:
// any) from the stored counters: In from the data center into the cloud, Out toward the
// data center, in intervals of step (a minute or more; steps under an hour come from the
// last hour's minutes, longer ones from the hourly usage records) between from and to.
// Intervals without traffic are there, with zeros.
func (s *Service) ConnectionTraffic(ctx context.Context, c Caller, vco string, from, to time.Time, step time.Duration) ([]TrafficPoint, error) {
	vcos, err := byID[model.VpnConnection](ctx, s, model.KindVpnConnection)
	if err != nil {
		return nil, err
	}
	v, ok := vcos[vco]
	if !ok || (!c.Admin && v.Owner != c.AccountID) {
		return nil, vcoNotFound(vco)
	}
	step = max(step, time.Minute)
	from, to = from.UTC().Truncate(step), to.UTC()
	n := int(to.Sub(from) / step)
	if to.Sub(from)%step != 0 {
		n++
	}
	if n <= 0 {
		return nil, nil
	}
	points := make([]TrafficPoint, n)
	for i := range points {
		points[i].Start = from.Add(time.Duration(i) * step)
	}
	add := func(at time.Time, t Traffic) {
		if at.Before(from) || !at.Before(to) {
			return
		}
		i := int(at.Sub(from) / step)
		points[i].Traffic = points[i].Traffic.plus(t)
	}
	if step < time.Hour {
		recs, err := s.Counters(ctx, Caller{Admin: true})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Vco == vco {
				for _, m := range r.Minutes {
					add(m.Minute, m.Traffic)
				}
			}
		}
		return points, nil
	}
	records, err := s.Usage(ctx, Caller{Admin: true}, v.Owner, from, to)
	if err != nil {
		return nil, err
	}
	for _, u := range records {
		if u.Instance == vco {
			add(u.Hour, u.Traffic)
		}
	}
	return points, nil
}
