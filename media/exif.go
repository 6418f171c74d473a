package media

import "encoding/binary"

// EXIF orientation parsing: the Orientation tag (0x0112) of IFD0 in a
// TIFF-structured block, as found in JPEG APP1 "Exif", PNG eXIf, WEBP EXIF
// chunks and TIFF files themselves.

const tagOrientation = 0x0112

// tiffByteOrder reads the TIFF byte-order mark at the start of b.
func tiffByteOrder(b []byte) (binary.ByteOrder, bool) {
	if len(b) < 8 {
		return nil, false
	}
	switch string(b[:4]) {
	case "II*\x00":
		return binary.LittleEndian, true
	case "MM\x00*":
		return binary.BigEndian, true
	}
	return nil, false
}

// exifOrientation returns the IFD0 Orientation of a TIFF-structured block
// b (starting at the byte-order mark), or 0 when it is absent or invalid.
func exifOrientation(b []byte) int {
	bo, ok := tiffByteOrder(b)
	if !ok {
		return 0
	}
	off := int64(bo.Uint32(b[4:8]))
	if off < 8 || off+2 > int64(len(b)) {
		return 0
	}
	n := int64(bo.Uint16(b[off:]))
	entries := b[off+2:]
	for i := int64(0); i < n && 12*(i+1) <= int64(len(entries)); i++ {
		e := entries[12*i : 12*(i+1)]
		if bo.Uint16(e) == tagOrientation {
			return orientationValue(bo, e)
		}
	}
	return 0
}

// orientationValue decodes the value of a 12-byte Orientation IFD entry:
// type SHORT (3), count 1, value in the first two bytes of the value field.
func orientationValue(bo binary.ByteOrder, e []byte) int {
	if bo.Uint16(e[2:]) != 3 || bo.Uint32(e[4:]) != 1 {
		return 0
	}
	if v := int(bo.Uint16(e[8:])); v >= 1 && v <= 8 {
		return v
	}
	return 0
}

// jpegMeta is what the markers before a JPEG's first frame header say.
type jpegMeta struct {
	orientation    int
	adobe          bool // an APP14 "Adobe" segment is present
	adobeTransform int  // its transform flag: 0 RGB/CMYK, 1 YCbCr, 2 YCCK
}

// scanJPEGMeta walks the marker segments of a JPEG prefix (from SOI up to a
// frame header or scan) for APP1 Exif and APP14 Adobe. A prefix that ends
// early gives what was found so far.
func scanJPEGMeta(b []byte) jpegMeta {
	var m jpegMeta
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return m
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return m
		}
		marker := b[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7): // no length
			i += 2
			continue
		case marker == 0xda || marker == 0xd9 || (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc):
			return m // scan, end or frame header: metadata comes before
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return m
		}
		seg := b[i+4 : i+2+n]
		switch {
		case marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" && m.orientation == 0:
			m.orientation = exifOrientation(seg[6:])
		case marker == 0xee && len(seg) >= 12 && string(seg[:5]) == "Adobe":
			m.adobe, m.adobeTransform = true, int(seg[11])
		}
		i += 2 + n
	}
	return m
}
