package main

import "encoding/binary"

// encodeSnappyPatchable compresses src into the snappy block format (the
// encoding remote-write 1.0 uses) so that every byte marked in volatile is
// emitted inside a literal and is never the source or the target of a copy.
// It returns the compressed block and, for every source offset, where that
// byte landed in the block (-1 for bytes inside copies).
//
// This is what lets the load generator send a fresh request for every round
// without compressing anything at send time: the label bytes, which never
// change, compress as well as with the stock encoder, while the sample values
// and timestamps (the volatile bytes, which are incompressible noise anyway)
// sit verbatim in the block and are overwritten in place. The block format has
// no checksum, so a patched block is still valid.
func encodeSnappyPatchable(src []byte, volatile []bool) (block []byte, pos []int32) {
	const (
		minMatch  = 4
		maxOffset = 1<<16 - 1
		maxCopy   = 64
		tableBits = 16
	)
	pos = make([]int32, len(src))
	for i := range pos {
		pos[i] = -1
	}
	block = binary.AppendUvarint(make([]byte, 0, len(src)/3), uint64(len(src)))

	stable := func(i, n int) bool {
		for _, v := range volatile[i : i+n] {
			if v {
				return false
			}
		}
		return true
	}
	hash := func(i int) uint32 {
		return (binary.LittleEndian.Uint32(src[i:]) * 0x1e35a7bd) >> (32 - tableBits)
	}
	var table [1 << tableBits]int32 // last position+1 of each 4-byte hash
	litStart := 0
	emitLiteral := func(end int) {
		n := end - litStart
		if n == 0 {
			return
		}
		switch m := n - 1; {
		case m < 60:
			block = append(block, byte(m)<<2)
		case m < 1<<8:
			block = append(block, 60<<2, byte(m))
		case m < 1<<16:
			block = append(block, 61<<2, byte(m), byte(m>>8))
		case m < 1<<24:
			block = append(block, 62<<2, byte(m), byte(m>>8), byte(m>>16))
		default:
			block = append(block, 63<<2, byte(m), byte(m>>8), byte(m>>16), byte(m>>24))
		}
		for i := litStart; i < end; i++ {
			pos[i] = int32(len(block) + i - litStart)
		}
		block = append(block, src[litStart:end]...)
	}

	for i := 0; i+minMatch <= len(src); {
		if !stable(i, minMatch) {
			i++
			continue
		}
		h := hash(i)
		cand := int(table[h]) - 1
		table[h] = int32(i + 1)
		if cand < 0 || i-cand > maxOffset ||
			binary.LittleEndian.Uint32(src[cand:]) != binary.LittleEndian.Uint32(src[i:]) ||
			!stable(cand, minMatch) {
			i++
			continue
		}
		n := minMatch
		for i+n < len(src) && !volatile[i+n] && !volatile[cand+n] && src[i+n] == src[cand+n] {
			n++
		}
		emitLiteral(i)
		offset := i - cand
		for rest := n; rest > 0; {
			l := min(rest, maxCopy)
			if rest-l > 0 && rest-l < minMatch {
				l = rest - minMatch // keep every copy at least minMatch long
			}
			block = append(block, byte(l-1)<<2|2, byte(offset), byte(offset>>8))
			rest -= l
		}
		for j := i + 1; j < i+n && j+minMatch <= len(src); j++ {
			if stable(j, minMatch) {
				table[hash(j)] = int32(j + 1)
			}
		}
		i += n
		litStart = i
	}
	emitLiteral(len(src))
	return block, pos
}
