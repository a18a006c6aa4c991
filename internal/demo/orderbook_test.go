package demo

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func lim(id uint64, acct uint32, s Side, price, qty int64) Order {
	return Order{ID: id, Account: acct, Side: s, Type: Limit, Price: price, Qty: qty}
}

func mkt(id uint64, acct uint32, s Side, qty int64) Order {
	return Order{ID: id, Account: acct, Side: s, Type: Market, Qty: qty}
}

func TestBook(t *testing.T) {
	type step struct {
		place  *Order
		cancel uint64
		// want
		fills     []Fill
		left      int64
		err       error
		cancelled bool
	}
	p := func(o Order) *Order { return &o }
	tests := []struct {
		name      string
		steps     []step
		bids, ask []Level
	}{
		{
			name: "no cross rests both sides",
			steps: []step{
				{place: p(lim(1, 1, Buy, 99, 5)), left: 5},
				{place: p(lim(2, 2, Sell, 101, 7)), left: 7},
			},
			bids: []Level{{Price: 99, Qty: 5, Orders: []uint64{1}}},
			ask:  []Level{{Price: 101, Qty: 7, Orders: []uint64{2}}},
		},
		{
			name: "crossing limit trades at the maker's price",
			steps: []step{
				{place: p(lim(1, 1, Sell, 100, 5)), left: 5},
				{place: p(lim(2, 2, Buy, 102, 5)), fills: []Fill{
					{TakerID: 2, MakerID: 1, TakerAccount: 2, MakerAccount: 1, TakerSide: Buy, Price: 100, Qty: 5},
				}},
			},
		},
		{
			name: "partial fill of the taker rests the remainder",
			steps: []step{
				{place: p(lim(1, 1, Sell, 100, 3)), left: 3},
				{place: p(lim(2, 2, Buy, 100, 10)), left: 7, fills: []Fill{
					{TakerID: 2, MakerID: 1, TakerAccount: 2, MakerAccount: 1, TakerSide: Buy, Price: 100, Qty: 3},
				}},
			},
			bids: []Level{{Price: 100, Qty: 7, Orders: []uint64{2}}},
		},
		{
			name: "partial fill of the maker keeps its priority",
			steps: []step{
				{place: p(lim(1, 1, Buy, 100, 10)), left: 10},
				{place: p(lim(2, 2, Buy, 100, 4)), left: 4},
				{place: p(lim(3, 3, Sell, 100, 6)), fills: []Fill{
					{TakerID: 3, MakerID: 1, TakerAccount: 3, MakerAccount: 1, TakerSide: Sell, Price: 100, Qty: 6},
				}},
			},
			bids: []Level{{Price: 100, Qty: 8, Orders: []uint64{1, 2}}},
		},
		{
			name: "price before time: the better price trades first though younger",
			steps: []step{
				{place: p(lim(1, 1, Sell, 101, 5)), left: 5},
				{place: p(lim(2, 2, Sell, 100, 5)), left: 5},
				{place: p(lim(3, 3, Buy, 101, 7)), fills: []Fill{
					{TakerID: 3, MakerID: 2, TakerAccount: 3, MakerAccount: 2, TakerSide: Buy, Price: 100, Qty: 5},
					{TakerID: 3, MakerID: 1, TakerAccount: 3, MakerAccount: 1, TakerSide: Buy, Price: 101, Qty: 2},
				}},
			},
			ask: []Level{{Price: 101, Qty: 3, Orders: []uint64{1}}},
		},
		{
			name: "time priority within a price: FIFO",
			steps: []step{
				{place: p(lim(1, 1, Buy, 100, 2)), left: 2},
				{place: p(lim(2, 2, Buy, 100, 2)), left: 2},
				{place: p(lim(3, 3, Buy, 100, 2)), left: 2},
				{place: p(lim(4, 4, Sell, 99, 5)), fills: []Fill{
					{TakerID: 4, MakerID: 1, TakerAccount: 4, MakerAccount: 1, TakerSide: Sell, Price: 100, Qty: 2},
					{TakerID: 4, MakerID: 2, TakerAccount: 4, MakerAccount: 2, TakerSide: Sell, Price: 100, Qty: 2},
					{TakerID: 4, MakerID: 3, TakerAccount: 4, MakerAccount: 3, TakerSide: Sell, Price: 100, Qty: 1},
				}},
			},
			bids: []Level{{Price: 100, Qty: 1, Orders: []uint64{3}}},
		},
		{
			name: "limit stops at its price",
			steps: []step{
				{place: p(lim(1, 1, Sell, 100, 1)), left: 1},
				{place: p(lim(2, 1, Sell, 103, 1)), left: 1},
				{place: p(lim(3, 2, Buy, 101, 5)), left: 4, fills: []Fill{
					{TakerID: 3, MakerID: 1, TakerAccount: 2, MakerAccount: 1, TakerSide: Buy, Price: 100, Qty: 1},
				}},
			},
			bids: []Level{{Price: 101, Qty: 4, Orders: []uint64{3}}},
			ask:  []Level{{Price: 103, Qty: 1, Orders: []uint64{2}}},
		},
		{
			name: "market order sweeps levels, the rest is cancelled",
			steps: []step{
				{place: p(lim(1, 1, Buy, 100, 2)), left: 2},
				{place: p(lim(2, 1, Buy, 98, 2)), left: 2},
				{place: p(mkt(3, 2, Sell, 10)), fills: []Fill{
					{TakerID: 3, MakerID: 1, TakerAccount: 2, MakerAccount: 1, TakerSide: Sell, Price: 100, Qty: 2},
					{TakerID: 3, MakerID: 2, TakerAccount: 2, MakerAccount: 1, TakerSide: Sell, Price: 98, Qty: 2},
				}},
			},
		},
		{
			name:  "market order on an empty book does nothing",
			steps: []step{{place: p(mkt(1, 1, Buy, 3))}},
		},
		{
			name: "cancel removes the order and its emptied level",
			steps: []step{
				{place: p(lim(1, 1, Buy, 100, 2)), left: 2},
				{place: p(lim(2, 1, Buy, 100, 3)), left: 3},
				{place: p(lim(3, 1, Buy, 99, 1)), left: 1},
				{cancel: 1, cancelled: true},
				{cancel: 3, cancelled: true},
				{cancel: 3},
				{cancel: 42},
				{place: p(lim(4, 2, Sell, 99, 1)), fills: []Fill{
					{TakerID: 4, MakerID: 2, TakerAccount: 2, MakerAccount: 1, TakerSide: Sell, Price: 100, Qty: 1},
				}},
			},
			bids: []Level{{Price: 100, Qty: 2, Orders: []uint64{2}}},
		},
		{
			name: "a filled order cannot be cancelled",
			steps: []step{
				{place: p(lim(1, 1, Sell, 100, 1)), left: 1},
				{place: p(lim(2, 2, Buy, 100, 1)), fills: []Fill{
					{TakerID: 2, MakerID: 1, TakerAccount: 2, MakerAccount: 1, TakerSide: Buy, Price: 100, Qty: 1},
				}},
				{cancel: 1},
			},
		},
		{
			name: "bad orders are refused",
			steps: []step{
				{place: p(lim(1, 1, Buy, 100, 0)), err: ErrBadQty},
				{place: p(lim(2, 1, Buy, 0, 1)), err: ErrBadPrice},
				{place: p(Order{ID: 3, Side: 9, Type: Limit, Price: 1, Qty: 1}), err: ErrBadSide},
				{place: p(Order{ID: 4, Side: Buy, Type: 9, Price: 1, Qty: 1}), err: ErrBadType},
				{place: p(lim(5, 1, Buy, 100, 1)), left: 1},
				{place: p(lim(5, 1, Buy, 100, 1)), err: ErrDuplicateID},
			},
			bids: []Level{{Price: 100, Qty: 1, Orders: []uint64{5}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook()
			for i, s := range tt.steps {
				if s.place == nil {
					if got := b.Cancel(s.cancel); got != s.cancelled {
						t.Fatalf("step %d: Cancel(%d) = %v, want %v", i, s.cancel, got, s.cancelled)
					}
					continue
				}
				fills, left, err := b.Place(*s.place, nil)
				if !errors.Is(err, s.err) {
					t.Fatalf("step %d: Place error %v, want %v", i, err, s.err)
				}
				if !reflect.DeepEqual(fills, s.fills) {
					t.Fatalf("step %d: fills\n got %+v\nwant %+v", i, fills, s.fills)
				}
				if left != s.left {
					t.Fatalf("step %d: left %d, want %d", i, left, s.left)
				}
			}
			if got := b.Depth(Buy, 100); !reflect.DeepEqual(got, tt.bids) {
				t.Errorf("bids\n got %+v\nwant %+v", got, tt.bids)
			}
			if got := b.Depth(Sell, 100); !reflect.DeepEqual(got, tt.ask) {
				t.Errorf("asks\n got %+v\nwant %+v", got, tt.ask)
			}
		})
	}
}

// TestBookInvariants places and cancels random orders and checks after each
// step that the book never stays crossed, levels are sorted best first, and
// quantity is conserved: placed = filled×2 (taker and maker side) + resting
// + cancelled + market remainders.
func TestBookInvariants(t *testing.T) {
	b := NewBook()
	rng := rand.New(rand.NewPCG(1, 2))
	var placed, filled, resting, cancelled, dropped int64
	restingQty := map[uint64]int64{}
	var fills []Fill
	for id := uint64(1); id <= 20000; id++ {
		if rng.IntN(4) == 0 && len(restingQty) > 0 {
			for cid, q := range restingQty {
				if !b.Cancel(cid) {
					t.Fatalf("cancel of resting order %d failed", cid)
				}
				cancelled += q
				delete(restingQty, cid)
				break
			}
		}
		o := lim(id, uint32(rng.IntN(5)), Side(1+rng.IntN(2)), 1000+int64(rng.IntN(21))-10, 1+int64(rng.IntN(9)))
		if rng.IntN(10) == 0 {
			o.Type = Market
		}
		placed += o.Qty
		var left int64
		var err error
		fills, left, err = b.Place(o, fills[:0])
		if err != nil {
			t.Fatal(err)
		}
		var taken int64
		for _, f := range fills {
			taken += f.Qty
			restingQty[f.MakerID] -= f.Qty
			if restingQty[f.MakerID] == 0 {
				delete(restingQty, f.MakerID)
			}
		}
		filled += taken
		if o.Type == Market {
			dropped += o.Qty - taken
		} else if left > 0 {
			restingQty[o.ID] = left
		}
		if left != o.Qty-taken && o.Type == Limit {
			t.Fatalf("order %d: left %d + filled %d != qty %d", id, left, taken, o.Qty)
		}
		bp, _, okb := b.BestBid()
		ap, _, oka := b.BestAsk()
		if okb && oka && bp >= ap {
			t.Fatalf("after order %d the book is crossed: bid %d ask %d", id, bp, ap)
		}
	}
	for _, q := range restingQty {
		resting += q
	}
	var inBook int64
	for _, s := range []Side{Buy, Sell} {
		d := b.Depth(s, 1<<30)
		for i, l := range d {
			inBook += l.Qty
			if i > 0 && ((s == Buy && l.Price >= d[i-1].Price) || (s == Sell && l.Price <= d[i-1].Price)) {
				t.Fatalf("%s levels not sorted best first: %+v", s, d)
			}
		}
	}
	if inBook != resting || b.Resting() != len(restingQty) {
		t.Fatalf("book holds %d lots in %d orders, want %d lots in %d", inBook, b.Resting(), resting, len(restingQty))
	}
	// Every placed lot was filled as taker or as maker (one lot of each per
	// filled lot), rests, was cancelled or was a market remainder.
	if placed != 2*filled+resting+cancelled+dropped {
		t.Fatalf("quantity not conserved: placed %d, filled %d, resting %d, cancelled %d, dropped %d", placed, filled, resting, cancelled, dropped)
	}
}

// BenchmarkPlaceOrder is the matching engine's place-order path on a book
// kept at a realistic depth: limit orders around the mid (half of them
// crossing), market orders and cancels.
func BenchmarkPlaceOrder(b *testing.B) {
	orders := orderStream(1, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	pb := newPlaceBench()
	for i := 0; b.Loop(); i++ {
		pb.place(orders[i&(len(orders)-1)])
	}
}
