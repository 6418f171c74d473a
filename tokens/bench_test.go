package tokens

import "testing"

func BenchmarkSmartResize(b *testing.B) {
	for i := 0; i < b.N; i++ {
		SmartResize(3024+i%7, 4032, 32, 65536, 2621440)
	}
}

func BenchmarkPlanVideo2000Frames(b *testing.B) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	src := VideoSource{Width: 1920, Height: 1080, Frames: 108000, FPS: 30}
	for i := 0; i < b.N; i++ {
		if _, err := PlanVideo(src, a, VideoOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
