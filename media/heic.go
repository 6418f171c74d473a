package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HEIF/HEIC/AVIF header parsing (ISO/IEC 23008-12 on ISOBMFF): the primary
// item (pitm) and its properties (iprp/ipco through ipma): ispe gives the
// coded size, irot and imir the transformations a reader must apply. No
// pixels are decoded here; heif_decode.go decodes them. An Exif item is not read: irot/imir are authoritative
// in HEIF and Exif orientation must not be applied on top of them.

// heifMaxMeta bounds the meta box read into memory.
const heifMaxMeta = 4 << 20

var errHEIF = errors.New("heif")

// heifInfo is what probeHEIF learns.
type heifInfo struct {
	width, height int
	orientation   int    // EXIF-equivalent 1–8; 0 without irot/imir
	itemType      string // primary item type: hvc1, av01, grid, …
	avif          bool   // the ftyp brands or item type say AVIF
}

type box struct {
	typ         string
	off, size   int64 // whole box
	hdr         int64 // header length
	payloadSize int64
}

// readBoxHeader reads the box header at off; end bounds the parent.
func readBoxHeader(r io.ReaderAt, off, end int64) (box, error) {
	var h [16]byte
	if _, err := r.ReadAt(h[:8], off); err != nil {
		return box{}, err
	}
	b := box{typ: string(h[4:8]), off: off, hdr: 8, size: int64(binary.BigEndian.Uint32(h[:4]))}
	switch b.size {
	case 0:
		b.size = end - off
	case 1:
		if _, err := r.ReadAt(h[8:16], off+8); err != nil {
			return box{}, err
		}
		b.size, b.hdr = int64(binary.BigEndian.Uint64(h[8:16])), 16
	}
	if b.size < b.hdr || off+b.size > end {
		return box{}, fmt.Errorf("%w: box %q size %d out of bounds", errHEIF, b.typ, b.size)
	}
	b.payloadSize = b.size - b.hdr
	return b, nil
}

// children splits an in-memory payload into boxes.
func children(p []byte) ([]box, error) {
	var out []box
	for off := int64(0); off < int64(len(p)); {
		if off+8 > int64(len(p)) {
			return out, fmt.Errorf("%w: truncated box header", errHEIF)
		}
		b := box{typ: string(p[off+4 : off+8]), off: off, hdr: 8, size: int64(binary.BigEndian.Uint32(p[off:]))}
		switch b.size {
		case 0:
			b.size = int64(len(p)) - off
		case 1:
			if off+16 > int64(len(p)) {
				return out, fmt.Errorf("%w: truncated box header", errHEIF)
			}
			b.size, b.hdr = int64(binary.BigEndian.Uint64(p[off+8:])), 16
		}
		if b.size < b.hdr || b.size > int64(len(p))-off {
			return out, fmt.Errorf("%w: box %q size %d out of bounds", errHEIF, b.typ, b.size)
		}
		b.payloadSize = b.size - b.hdr
		out = append(out, b)
		off += b.size
	}
	return out, nil
}

func payload(p []byte, b box) []byte { return p[b.off+b.hdr : b.off+b.size] }

// probeHEIF reads a HEIF file's ftyp and meta boxes.
func probeHEIF(r io.ReaderAt, size int64) (heifInfo, error) {
	meta, avif, err := readHEIFMeta(r, size)
	if err != nil {
		return heifInfo{}, err
	}
	hi, err := parseHEIFMeta(meta[4:], heifInfo{avif: avif}) // meta is a FullBox
	if err != nil {
		return hi, err
	}
	// A file cut short keeps its meta box (it comes first) but loses the
	// coded data its items point at: visible from the header alone.
	if m, ierr := parseHEIFItems(meta[4:]); ierr == nil {
		if err := m.checkExtents(size); err != nil {
			return hi, err
		}
	}
	return hi, nil
}

// readHEIFMeta returns the payload of a HEIF file's meta box (a FullBox:
// version and flags first) and whether the major brand is AVIF.
func readHEIFMeta(r io.ReaderAt, size int64) (meta []byte, avif bool, err error) {
	for off, n := int64(0), 0; off < size && n < 64 && meta == nil; n++ {
		b, err := readBoxHeader(r, off, size)
		if err != nil {
			return nil, false, err
		}
		switch b.typ {
		case "ftyp":
			if b.payloadSize > 4096 {
				return nil, false, fmt.Errorf("%w: ftyp too large", errHEIF)
			}
			p := make([]byte, b.payloadSize)
			if _, err := r.ReadAt(p, b.off+b.hdr); err != nil {
				return nil, false, err
			}
			if len(p) >= 4 && (string(p[:4]) == "avif" || string(p[:4]) == "avis") {
				avif = true // major brand; otherwise the primary item type decides
			}
		case "meta":
			if b.payloadSize > heifMaxMeta {
				return nil, false, fmt.Errorf("%w: meta box of %d bytes", errHEIF, b.payloadSize)
			}
			meta = make([]byte, b.payloadSize)
			if _, err := r.ReadAt(meta, b.off+b.hdr); err != nil {
				return nil, false, err
			}
		}
		off += b.size
	}
	if meta == nil {
		return nil, false, fmt.Errorf("%w: no meta box", errHEIF)
	}
	if len(meta) < 4 {
		return nil, false, fmt.Errorf("%w: meta box too short", errHEIF)
	}
	return meta, avif, nil
}

// heifProp is one entry of ipco.
type heifProp struct {
	typ  string
	data []byte // payload
}

func parseHEIFMeta(p []byte, hi heifInfo) (heifInfo, error) {
	boxes, err := children(p)
	if err != nil {
		return hi, err
	}
	primary := uint32(0)
	hasPrimary := false
	itemTypes := map[uint32]string{}
	var props []heifProp
	assoc := map[uint32][]int{}
	for _, b := range boxes {
		d := payload(p, b)
		switch b.typ {
		case "pitm":
			if primary, err = parsePITM(d); err != nil {
				return hi, err
			}
			hasPrimary = true
		case "iinf":
			parseIINF(d, itemTypes)
		case "iprp":
			props, assoc, err = parseIPRP(d)
			if err != nil {
				return hi, err
			}
		}
	}
	hi.itemType = itemTypes[primary]
	if hi.itemType == "av01" {
		hi.avif = true
	}
	var list []heifProp
	if hasPrimary {
		for _, idx := range assoc[primary] {
			if idx >= 1 && idx <= len(props) {
				list = append(list, props[idx-1])
			}
		}
	}
	// Transformative properties apply in the order ipma lists them
	// (ISO/IEC 23008-12 §6.5.1): each one multiplies from the left.
	m := orientMatrix{1, 0, 0, 1}
	found, transformed := false, false
	for _, pr := range list {
		switch pr.typ {
		case "ispe":
			if len(pr.data) >= 12 {
				hi.width = int(binary.BigEndian.Uint32(pr.data[4:]))
				hi.height = int(binary.BigEndian.Uint32(pr.data[8:]))
				found = true
			}
		case "irot":
			transformed = true
			if len(pr.data) >= 1 {
				for range pr.data[0] & 3 {
					m = rotCCW.mul(m)
				}
			}
		case "imir":
			// ISO/IEC 23008-12:2022 §6.5.12: axis 0 exchanges the top and
			// bottom parts (EXIF orientation 4), axis 1 the left and right
			// parts (EXIF 2); libheif and libavif read it so.
			transformed = true
			if len(pr.data) >= 1 {
				if pr.data[0]&1 == 0 {
					m = mirrorV.mul(m)
				} else {
					m = mirrorH.mul(m)
				}
			}
		}
	}
	if !found { // no primary item properties: the largest ispe
		for _, pr := range props {
			if pr.typ == "ispe" && len(pr.data) >= 12 {
				w, h := int(binary.BigEndian.Uint32(pr.data[4:])), int(binary.BigEndian.Uint32(pr.data[8:]))
				if w*h > hi.width*hi.height {
					hi.width, hi.height, found = w, h, true
				}
			}
		}
	}
	if !found {
		return hi, fmt.Errorf("%w: no ispe (image size) property", errHEIF)
	}
	if transformed {
		hi.orientation = m.exif()
	}
	return hi, nil
}

// parsePITM returns the primary item ID of a pitm payload.
func parsePITM(d []byte) (uint32, error) {
	switch {
	case len(d) >= 6 && d[0] == 0:
		return uint32(binary.BigEndian.Uint16(d[4:])), nil
	case len(d) >= 8:
		return binary.BigEndian.Uint32(d[4:]), nil
	}
	return 0, fmt.Errorf("%w: short pitm", errHEIF)
}

// parseIINF fills item ID → item type from infe version 2/3 entries.
func parseIINF(d []byte, types map[uint32]string) {
	if len(d) < 6 {
		return
	}
	skip := 6
	if d[0] != 0 {
		skip = 8
	}
	if len(d) < skip {
		return
	}
	boxes, _ := children(d[skip:])
	for _, b := range boxes {
		if b.typ != "infe" {
			continue
		}
		e := payload(d[skip:], b)
		if len(e) < 4 {
			continue
		}
		switch e[0] {
		case 2:
			if len(e) >= 12 {
				types[uint32(binary.BigEndian.Uint16(e[4:]))] = string(e[8:12])
			}
		case 3:
			if len(e) >= 14 {
				types[binary.BigEndian.Uint32(e[4:])] = string(e[10:14])
			}
		}
	}
}

// parseIPRP returns the ipco property list and the ipma associations
// (item ID → 1-based property indices, in order).
func parseIPRP(d []byte) ([]heifProp, map[uint32][]int, error) {
	boxes, err := children(d)
	if err != nil {
		return nil, nil, err
	}
	var props []heifProp
	assoc := map[uint32][]int{}
	for _, b := range boxes {
		switch b.typ {
		case "ipco":
			pb, err := children(payload(d, b))
			if err != nil {
				return nil, nil, err
			}
			for _, c := range pb {
				props = append(props, heifProp{typ: c.typ, data: payload(payload(d, b), c)})
			}
		case "ipma":
			parseIPMA(payload(d, b), assoc)
		}
	}
	return props, assoc, nil
}

func parseIPMA(d []byte, assoc map[uint32][]int) {
	if len(d) < 8 {
		return
	}
	version, flags := d[0], d[3]
	n := binary.BigEndian.Uint32(d[4:])
	i := 8
	for e := uint32(0); e < n; e++ {
		var id uint32
		if version < 1 {
			if i+2 > len(d) {
				return
			}
			id, i = uint32(binary.BigEndian.Uint16(d[i:])), i+2
		} else {
			if i+4 > len(d) {
				return
			}
			id, i = binary.BigEndian.Uint32(d[i:]), i+4
		}
		if i >= len(d) {
			return
		}
		count := int(d[i])
		i++
		for range count {
			var idx int
			if flags&1 != 0 {
				if i+2 > len(d) {
					return
				}
				idx, i = int(binary.BigEndian.Uint16(d[i:])&0x7fff), i+2
			} else {
				if i >= len(d) {
					return
				}
				idx, i = int(d[i]&0x7f), i+1
			}
			assoc[id] = append(assoc[id], idx)
		}
	}
}

// orientMatrix is a display transformation as a 2×2 integer matrix acting on
// (x right, y down) coordinates: the dihedral group of the square.
type orientMatrix [4]int

var (
	rotCCW  = orientMatrix{0, 1, -1, 0} // (x,y) → (y,−x): 90° anticlockwise
	mirrorH = orientMatrix{-1, 0, 0, 1} // left–right
	mirrorV = orientMatrix{1, 0, 0, -1} // top–bottom
)

// exifMatrices[o] is the display transformation EXIF orientation o asks for.
var exifMatrices = [9]orientMatrix{
	1: {1, 0, 0, 1},
	2: {-1, 0, 0, 1},
	3: {-1, 0, 0, -1},
	4: {1, 0, 0, -1},
	5: {0, 1, 1, 0},
	6: {0, -1, 1, 0},
	7: {0, -1, -1, 0},
	8: {0, 1, -1, 0},
}

func (a orientMatrix) mul(b orientMatrix) orientMatrix {
	return orientMatrix{a[0]*b[0] + a[1]*b[2], a[0]*b[1] + a[1]*b[3], a[2]*b[0] + a[3]*b[2], a[2]*b[1] + a[3]*b[3]}
}

func (a orientMatrix) exif() int {
	for o := 1; o <= 8; o++ {
		if exifMatrices[o] == a {
			return o
		}
	}
	return 1
}
