package pipeline

import "unicode"

// PromptTokens approximates the tokens of a prompt text. No Qwen tokenizer
// ships with vision, so this is an estimate (and marked as one in outputs):
// Qwen's BPE gives about one token per 4 bytes of English and about one per
// CJK character. Each CJK, kana or hangul rune counts 1; other runs count
// one token per 4 bytes, rounded up per word.
func PromptTokens(s string) int {
	n := 0
	word := 0
	flush := func() {
		if word > 0 {
			n += (word + 3) / 4
			word = 0
		}
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r):
			flush()
			n++
		case unicode.IsSpace(r):
			flush()
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			flush()
			n++
		default:
			if r < 0x80 {
				word++
			} else {
				word += 2
			}
		}
	}
	flush()
	return n
}
