package chart

import (
	"strings"
	"testing"
)

// TestCapacityKnee: every capacity plot names the knee at its step's rate
// in its legend, and none does when there is no knee.
func TestCapacityKnee(t *testing.T) {
	t.Parallel()
	d := &CapacityData{Title: "knee", Knee: 3, CapacityRPS: 150}
	for i, rate := range []float64{50, 75, 112.5, 168.8, 253.1} {
		d.Steps = append(d.Steps, CapacityPoint{TargetRPS: rate, ThroughputRPS: min(rate, 170),
			P50: 5, P95: 10 + float64(i*i)*40, P99: 20 + float64(i*i)*60, ErrorRate: float64(i) / 100, Pass: i < 3})
	}
	for _, knee := range []int{3, -1} {
		d.Knee = knee
		imgs, err := DrawCapacity(d)
		if err != nil || len(imgs) != 3 {
			t.Fatalf("knee %d: %d images, %v", knee, len(imgs), err)
		}
		for _, img := range imgs {
			has := strings.Contains(string(img.SVG), "knee 168.8/s")
			if has != (knee >= 0) || len(img.PNG) == 0 {
				t.Errorf("knee %d: %s names the knee: %v", knee, img.Name, has)
			}
		}
	}
}
