package tokens_test

import (
	"fmt"

	"github.com/qwen-vision/vision/tokens"
)

func ExampleSmartResize() {
	// A 1280×720 frame at factor 32: 720/32 = 22.5 rounds half to even.
	h, w, _ := tokens.SmartResize(720, 1280, 32, 65536, 2621440)
	fmt.Println(w, h)
	// Output: 1280 704
}

func ExamplePlanImage() {
	m, _ := tokens.Lookup("qwen-vl-max")
	p, _ := tokens.PlanImage(2048, 1365, m.Spec, tokens.ImageOptions{})
	fmt.Printf("%dx%d %d tokens (%d input)\n", p.ResizedWidth, p.ResizedHeight, p.Tokens, p.InputTokens)
	// Output: 1376x928 1247 tokens (1249 input)
}
