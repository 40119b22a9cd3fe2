package changeset

// The functions below follow addSection, addInsert, mapSet, composeSets and
// SectionIter of @codemirror/state's change.ts, keeping their structure so
// that the two can be compared line by line.

func addSection(sections []int, n, ins int, forceJoin bool) []int {
	if n == 0 && ins <= 0 {
		return sections
	}
	last := len(sections) - 2
	switch {
	case last >= 0 && ins <= 0 && ins == sections[last+1]:
		sections[last] += n
	case last >= 0 && n == 0 && sections[last] == 0:
		sections[last+1] += ins
	case forceJoin:
		sections[last] += n
		sections[last+1] += ins
	default:
		sections = append(sections, n, ins)
	}
	return sections
}

func addInsert(values [][]uint16, sections []int, value []uint16) [][]uint16 {
	if len(value) == 0 {
		return values
	}
	index := (len(sections) - 2) >> 1
	if index < len(values) {
		last := values[len(values)-1]
		joined := make([]uint16, 0, len(last)+len(value))
		values[len(values)-1] = append(append(joined, last...), value...)
		return values
	}
	for len(values) < index {
		values = append(values, nil)
	}
	return append(values, value)
}

// sectionIter walks the sections of a set; ins == -2 means done.
type sectionIter struct {
	set         *ChangeSet
	i           int
	n, off, ins int
}

func newIter(set *ChangeSet) *sectionIter {
	it := &sectionIter{set: set}
	it.next()
	return it
}

func (it *sectionIter) next() {
	if it.i < len(it.set.sections) {
		it.n = it.set.sections[it.i]
		it.ins = it.set.sections[it.i+1]
		it.i += 2
	} else {
		it.n, it.ins = 0, -2
	}
	it.off = 0
}

func (it *sectionIter) done() bool { return it.ins == -2 }

func (it *sectionIter) len2() int {
	if it.ins < 0 {
		return it.n
	}
	return it.ins
}

func (it *sectionIter) text() []uint16 {
	index := (it.i - 2) >> 1
	if index >= len(it.set.inserted) {
		return nil
	}
	return it.set.inserted[index]
}

func (it *sectionIter) textBit(n int) []uint16 {
	t := it.text()
	if t == nil {
		return nil
	}
	return t[it.off : it.off+n]
}

func (it *sectionIter) forward(n int) {
	if n == it.n {
		it.next()
	} else {
		it.n -= n
		it.off += n
	}
}

func (it *sectionIter) forward2(n int) {
	switch {
	case it.ins == -1:
		it.forward(n)
	case n == it.ins:
		it.next()
	default:
		it.ins -= n
		it.off += n
	}
}

func result(sections []int, insert [][]uint16, mkSet bool) *ChangeSet {
	if !mkSet {
		return &ChangeSet{sections: sections, desc: true}
	}
	if insert == nil {
		insert = [][]uint16{}
	}
	return &ChangeSet{sections: sections, inserted: insert}
}

// mapSet produces a copy of setA that applies to the document after setB
// has been applied (both starting at the same document).
func mapSet(setA, setB *ChangeSet, before, mkSet bool) (*ChangeSet, error) {
	var sections []int
	var insert [][]uint16
	a, b := newIter(setA), newIter(setB)
	for inserted := -1; ; {
		switch {
		case a.done() && b.n != 0 || b.done() && a.n != 0:
			return nil, ErrMismatch
		case a.ins == -1 && b.ins == -1:
			n := min(a.n, b.n)
			sections = addSection(sections, n, -1, false)
			a.forward(n)
			b.forward(n)
		case b.ins >= 0 && (a.ins < 0 || inserted == a.i || a.off == 0 && (b.n < a.n || b.n == a.n && !before)):
			n := b.n
			sections = addSection(sections, b.ins, -1, false)
			for n != 0 {
				piece := min(a.n, n)
				if a.ins >= 0 && inserted < a.i && a.n <= piece {
					sections = addSection(sections, 0, a.ins, false)
					if mkSet {
						insert = addInsert(insert, sections, a.text())
					}
					inserted = a.i
				}
				a.forward(piece)
				n -= piece
			}
			b.next()
		case a.ins >= 0:
			n, left := 0, a.n
			for left != 0 {
				if b.ins == -1 {
					piece := min(left, b.n)
					n += piece
					left -= piece
					b.forward(piece)
				} else if b.ins == 0 && b.n < left {
					left -= b.n
					b.next()
				} else {
					break
				}
			}
			if inserted < a.i {
				sections = addSection(sections, n, a.ins, false)
				if mkSet {
					insert = addInsert(insert, sections, a.text())
				}
			} else {
				sections = addSection(sections, n, 0, false)
			}
			inserted = a.i
			a.forward(a.n - left)
		case a.done() && b.done():
			return result(sections, insert, mkSet), nil
		default:
			return nil, ErrMismatch
		}
	}
}

// composeSets combines setA with setB, which starts in the document setA
// produces.
func composeSets(setA, setB *ChangeSet, mkSet bool) (*ChangeSet, error) {
	var sections []int
	var insert [][]uint16
	a, b := newIter(setA), newIter(setB)
	for open := false; ; {
		switch {
		case a.done() && b.done():
			return result(sections, insert, mkSet), nil
		case a.ins == 0: // deletion in A
			sections = addSection(sections, a.n, 0, open)
			a.next()
		case b.n == 0 && !b.done(): // insertion in B
			sections = addSection(sections, 0, b.ins, open)
			if mkSet {
				insert = addInsert(insert, sections, b.text())
			}
			b.next()
		case a.done() || b.done():
			return nil, ErrMismatch
		default:
			n, sectionLen := min(a.len2(), b.n), len(sections)
			switch {
			case a.ins == -1:
				insB := b.ins
				if b.ins != -1 && b.off != 0 {
					insB = 0
				}
				sections = addSection(sections, n, insB, open)
				if mkSet && insB != 0 {
					insert = addInsert(insert, sections, b.text())
				}
			case b.ins == -1:
				sections = addSection(sections, ifZero(a.off, a.n), n, open)
				if mkSet {
					insert = addInsert(insert, sections, a.textBit(n))
				}
			default:
				sections = addSection(sections, ifZero(a.off, a.n), ifZero(b.off, b.ins), open)
				if mkSet && b.off == 0 {
					insert = addInsert(insert, sections, b.text())
				}
			}
			open = (a.ins > n || b.ins >= 0 && b.n > n) && (open || len(sections) > sectionLen)
			a.forward2(n)
			b.forward(n)
		}
	}
}

// ifZero returns v when off is zero and 0 otherwise (JS: `off ? 0 : v`).
func ifZero(off, v int) int {
	if off != 0 {
		return 0
	}
	return v
}
