package media

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The item structure of a HEIF/AVIF file (ISO/IEC 23008-12 on ISO/IEC
// 14496-12), as far as decoding the primary image needs it: item types
// (iinf), where each item's data is (iloc, idat), which tiles a grid is made
// of (iref dimg) and each item's properties (iprp: ipco + ipma).

// heifItem is one item of the meta box.
type heifItem struct {
	id      uint32
	typ     string     // hvc1, av01, grid, Exif, mime…
	props   []heifProp // associated properties, in ipma order
	method  int        // iloc construction_method: 0 file offsets, 1 idat
	base    uint64
	extents []heifExtent
}

type heifExtent struct{ off, len uint64 }

// heifMeta is the parsed meta box.
type heifMeta struct {
	primary uint32
	items   map[uint32]*heifItem
	dimg    map[uint32][]uint32 // derived image → its inputs (grid tiles), in order
	idat    []byte
}

// prop returns the item's first property of type typ.
func (it *heifItem) prop(typ string) ([]byte, bool) {
	for _, p := range it.props {
		if p.typ == typ {
			return p.data, true
		}
	}
	return nil, false
}

// size is the item's ispe (coded width and height), 0×0 without one.
func (it *heifItem) size() (w, h int) {
	if d, ok := it.prop("ispe"); ok && len(d) >= 12 {
		return int(binary.BigEndian.Uint32(d[4:])), int(binary.BigEndian.Uint32(d[8:]))
	}
	return 0, 0
}

// parseHEIFItems reads the whole item structure of a meta box payload
// (after its FullBox header).
func parseHEIFItems(p []byte) (*heifMeta, error) {
	boxes, err := children(p)
	if err != nil {
		return nil, err
	}
	m := &heifMeta{items: map[uint32]*heifItem{}, dimg: map[uint32][]uint32{}}
	item := func(id uint32) *heifItem {
		if m.items[id] == nil {
			m.items[id] = &heifItem{id: id}
		}
		return m.items[id]
	}
	hasPrimary := false
	var props []heifProp
	assoc := map[uint32][]int{}
	var iloc []byte
	for _, b := range boxes {
		d := payload(p, b)
		switch b.typ {
		case "pitm":
			if m.primary, err = parsePITM(d); err != nil {
				return nil, err
			}
			hasPrimary = true
		case "iinf":
			types := map[uint32]string{}
			parseIINF(d, types)
			for id, t := range types {
				item(id).typ = t
			}
		case "iprp":
			if props, assoc, err = parseIPRP(d); err != nil {
				return nil, err
			}
		case "iloc":
			iloc = d
		case "iref":
			if err := parseIREF(d, m.dimg); err != nil {
				return nil, err
			}
		case "idat":
			m.idat = d
		}
	}
	if !hasPrimary {
		return nil, fmt.Errorf("%w: no primary item (pitm)", errHEIF)
	}
	for id, idx := range assoc {
		it := item(id)
		for _, i := range idx {
			if i >= 1 && i <= len(props) {
				it.props = append(it.props, props[i-1])
			}
		}
	}
	if iloc == nil {
		return nil, fmt.Errorf("%w: no item locations (iloc)", errHEIF)
	}
	if err := parseILOC(iloc, item); err != nil {
		return nil, err
	}
	return m, nil
}

// parseILOC fills each item's extents from an iloc payload.
func parseILOC(d []byte, item func(uint32) *heifItem) error {
	r := byteReader{b: d}
	version := r.u8()
	r.skip(3)
	sizes := r.u8()
	offSize, lenSize := int(sizes>>4), int(sizes&15)
	sizes2 := r.u8()
	baseSize, idxSize := int(sizes2>>4), int(sizes2&15)
	if version < 1 {
		idxSize = 0
	}
	var count uint32
	if version < 2 {
		count = uint32(r.u16())
	} else {
		count = r.u32()
	}
	for range count {
		var id uint32
		if version < 2 {
			id = uint32(r.u16())
		} else {
			id = r.u32()
		}
		it := item(id)
		if version >= 1 {
			it.method = int(r.u16() & 15)
		}
		r.u16() // data_reference_index: 0, this file
		it.base = r.uint(baseSize)
		n := int(r.u16())
		if r.err != nil {
			break
		}
		it.extents = it.extents[:0]
		for range n {
			r.uint(idxSize)
			e := heifExtent{off: r.uint(offSize), len: r.uint(lenSize)}
			if r.err != nil {
				break
			}
			it.extents = append(it.extents, e)
		}
	}
	if r.err != nil {
		return fmt.Errorf("%w: iloc: %v", errHEIF, r.err)
	}
	return nil
}

// parseIREF fills the dimg references of an iref payload.
func parseIREF(d []byte, dimg map[uint32][]uint32) error {
	if len(d) < 4 {
		return fmt.Errorf("%w: short iref", errHEIF)
	}
	wide := d[0] != 0
	refs, err := children(d[4:])
	if err != nil {
		return err
	}
	for _, b := range refs {
		if b.typ != "dimg" {
			continue
		}
		r := byteReader{b: payload(d[4:], b)}
		id := func() uint32 {
			if wide {
				return r.u32()
			}
			return uint32(r.u16())
		}
		from := id()
		n := int(r.u16())
		for range n {
			to := id()
			if r.err != nil {
				return fmt.Errorf("%w: iref dimg: %v", errHEIF, r.err)
			}
			dimg[from] = append(dimg[from], to)
		}
	}
	return nil
}

// checkExtents reports an item stored in the file (construction method 0)
// whose data reaches past its size bytes: a truncated file.
func (m *heifMeta) checkExtents(size int64) error {
	for _, it := range m.items {
		if it.method != 0 {
			continue
		}
		for _, e := range it.extents {
			off := it.base + e.off
			if off > uint64(size) || e.len > uint64(size)-off {
				return fmt.Errorf("%w: item %d extent %d+%d past the end of the file (%d bytes; truncated)", errHEIF, it.id, off, e.len, size)
			}
		}
	}
	return nil
}

// heifItemLimit bounds the bytes read for one item (a tile or a whole
// coded image): far above any real photo's coded size.
const heifItemLimit = 256 << 20

// itemData reads an item's bytes: its extents concatenated, from the file
// (construction method 0) or the idat box (1).
func (m *heifMeta) itemData(r io.ReaderAt, size int64, it *heifItem) ([]byte, error) {
	var out []byte
	for _, e := range it.extents {
		off, n := it.base+e.off, e.len
		switch it.method {
		case 0:
			if n == 0 { // the rest of the file
				n = uint64(size) - min(off, uint64(size))
			}
			if off > uint64(size) || n > uint64(size)-off {
				return nil, fmt.Errorf("%w: item %d extent %d+%d past the end of the file (%d bytes): %w", errHEIF, it.id, off, n, size, ErrCorrupt)
			}
		case 1:
			if n == 0 {
				n = uint64(len(m.idat)) - min(off, uint64(len(m.idat)))
			}
			if off > uint64(len(m.idat)) || n > uint64(len(m.idat))-off {
				return nil, fmt.Errorf("%w: item %d extent past the idat box: %w", errHEIF, it.id, ErrCorrupt)
			}
		default:
			return nil, fmt.Errorf("%w: item %d: construction method %d: %w", errHEIF, it.id, it.method, ErrUnsupported)
		}
		if uint64(len(out))+n > heifItemLimit {
			return nil, fmt.Errorf("%w: item %d is over %d bytes: %w", errHEIF, it.id, heifItemLimit, ErrCorrupt)
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if it.method == 1 {
			copy(out[start:], m.idat[off:off+n])
			continue
		}
		if _, err := r.ReadAt(out[start:], int64(off)); err != nil {
			return nil, fmt.Errorf("%w: item %d: %v: %w", errHEIF, it.id, err, ErrCorrupt)
		}
	}
	return out, nil
}

// heifGrid is an ImageGrid derivation: rows × columns tiles, cropped to the
// output size.
type heifGrid struct {
	rows, cols    int
	width, height int
}

func parseGrid(d []byte) (heifGrid, error) {
	r := byteReader{b: d}
	r.u8() // version
	flags := r.u8()
	g := heifGrid{rows: int(r.u8()) + 1, cols: int(r.u8()) + 1}
	if flags&1 != 0 {
		g.width, g.height = int(r.u32()), int(r.u32())
	} else {
		g.width, g.height = int(r.u16()), int(r.u16())
	}
	if r.err != nil {
		return g, fmt.Errorf("%w: grid: %v: %w", errHEIF, r.err, ErrCorrupt)
	}
	return g, nil
}

// byteReader reads big-endian fields, remembering the first overrun.
type byteReader struct {
	b   []byte
	off int
	err error
}

func (r *byteReader) take(n int) []byte {
	if r.err != nil || n < 0 || r.off+n > len(r.b) {
		if r.err == nil {
			r.err = io.ErrUnexpectedEOF
		}
		return make([]byte, max(n, 0))
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *byteReader) skip(n int)  { r.take(n) }
func (r *byteReader) u8() uint8   { return r.take(1)[0] }
func (r *byteReader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *byteReader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *byteReader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
func (r *byteReader) uint(n int) uint64 {
	switch n {
	case 0:
		return 0
	case 4:
		return uint64(r.u32())
	case 8:
		return r.u64()
	}
	if r.err == nil {
		r.err = fmt.Errorf("field size %d", n)
	}
	return 0
}
