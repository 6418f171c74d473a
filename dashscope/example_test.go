package dashscope_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/qwen-vision/vision/dashscope"
)

// ExampleClient_Generate asks about one local JPEG (its bytes, read by the
// caller) and prints the answer and the token usage. It is compiled, not
// run: it needs a key and the network.
func ExampleClient_Generate() {
	c, err := dashscope.NewClient(os.Getenv("DASHSCOPE_API_KEY"),
		dashscope.WithRegion("intl"),
		dashscope.WithOnRetry(func(ri dashscope.RetryInfo) {
			log.Printf("retrying %s in %v: %v", ri.Op, ri.Delay, ri.Err)
		}))
	if err != nil {
		log.Fatal(err)
	}
	jpeg, err := os.ReadFile("photo.jpg")
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Generate(context.Background(), &dashscope.Request{
		Model: "qwen3-vl-plus",
		Messages: []dashscope.Message{{
			Role: dashscope.RoleUser,
			Content: []dashscope.Content{
				dashscope.Image(dashscope.MediaBytes("image/jpeg", jpeg)),
				dashscope.Text("What is in this picture?"),
			},
		}},
		Parameters: dashscope.Parameters{MaxTokens: 200},
	})
	var apiErr *dashscope.APIError
	if errors.As(err, &apiErr) {
		log.Fatalf("%v (%s: %s)", err, apiErr.Class(), apiErr.Class().Hint())
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Text)
	fmt.Printf("input %d tokens (%d image), output %d\n", resp.Usage.InputTokens, resp.Usage.ImageTokens, resp.Usage.OutputTokens)
}
