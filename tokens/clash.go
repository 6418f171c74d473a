package tokens

import "fmt"

// bound is one side of a pixel range: its value, where the value comes from,
// and the model's limit for that side.
type bound struct {
	v     int
	def   string // "the default video min_pixels" etc.; "" when the caller gave it
	note  string // said after the value, e.g. where a library default comes from
	limit int    // min_pixels: smallest accepted; max_pixels: largest accepted; 0 none
}

func (b bound) String() string {
	if b.note != "" {
		return fmt.Sprintf("%s %d (%s)", b.def, b.v, b.note)
	}
	return fmt.Sprintf("%s %d", b.def, b.v)
}

// userOr returns the caller's value when set (non-zero), else the default
// described by def. limit is the model's limit for this side (0: none).
func userOr(v, def int, desc string, limit int) bound {
	if v != 0 {
		return bound{v: v, limit: limit}
	}
	return bound{v: def, def: desc, limit: limit}
}

// boundsClash explains a min_pixels above max_pixels as an [*OptionError]
// that names the setting to change and the default it clashes with, so a
// caller who gave only one of the two learns which default got in the way
// and what would fix it within the model's limits.
func boundsClash(lo, hi bound) error {
	switch {
	case lo.def == "" && hi.def == "":
		return withFix(optErr("min_pixels", "%d is greater than max_pixels %d", lo.v, hi.v), "lower min_pixels or raise max_pixels")
	case lo.def == "":
		if hi.limit != 0 && lo.v > hi.limit {
			return withFix(optErr("min_pixels", "%d is greater than %s and this model's largest max_pixels %d", lo.v, hi, hi.limit), "lower min_pixels to at most %d", hi.limit)
		}
		return withFix(optErr("min_pixels", "%d is greater than %s", lo.v, hi), "give a max_pixels of at least %d too, or lower min_pixels", lo.v)
	case hi.def == "":
		if hi.v < lo.limit {
			return withFix(optErr("max_pixels", "%d is below %s and this model's smallest min_pixels %d", hi.v, lo, lo.limit), "raise max_pixels to at least %d", lo.limit)
		}
		return withFix(optErr("max_pixels", "%d is below %s", hi.v, lo), "give a min_pixels of at most %d too, or raise max_pixels", hi.v)
	}
	return optErr("min_pixels/max_pixels", "%s is greater than %s", lo, hi)
}
