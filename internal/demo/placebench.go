package demo

import "math/rand/v2"

// orderStream is a deterministic flow of orders around a mid price of
// 10000 ticks: limit orders within ±10 ticks (so about half cross), 10%
// market orders, 1–10 lots. n must be a power of two. IDs are assigned at
// placement.
func orderStream(seed uint64, n int) []Order {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Order, n)
	for i := range out {
		o := Order{Account: uint32(rng.IntN(8)), Side: Side(1 + rng.IntN(2)), Type: Limit, Qty: 1 + int64(rng.IntN(10))}
		if rng.IntN(10) == 0 {
			o.Type = Market
		} else {
			o.Price = 10000 + int64(rng.IntN(21)) - 10
		}
		out[i] = o
	}
	return out
}

// placeBench places orders on a fresh book and cancels each order
// liveWindow placements later (a no-op when it was filled), so the book
// stays at a realistic depth however long it runs.
type placeBench struct {
	book  *Book
	fills []Fill
	live  [liveWindow]uint64
	next  uint64
}

const liveWindow = 1024

func newPlaceBench() *placeBench {
	return &placeBench{book: NewBook(), fills: make([]Fill, 0, 64)}
}

func (p *placeBench) place(o Order) int {
	p.next++
	slot := &p.live[p.next%liveWindow]
	if *slot != 0 {
		p.book.Cancel(*slot)
	}
	o.ID = p.next
	p.fills, _, _ = p.book.Place(o, p.fills[:0])
	*slot = o.ID
	return len(p.fills)
}
