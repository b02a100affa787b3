package chart

import (
	"math"

	"gonum.org/v1/plot/plotter"
)

// aggregation says how the samples of one bucket become one plotted point.
type aggregation int

const (
	// aggMax keeps a bucket's largest sample, so that a latency spike
	// shorter than a bucket still shows at its full height.
	aggMax aggregation = iota
	// aggMean averages a bucket's samples, so that a rate keeps its level.
	aggMean
)

// downsample turns the series (xs[i], ys[i]) into at most limit points:
// each stands for a bucket of consecutive samples, at the mean x of the
// bucket's samples, with their maximum or mean y. Non-finite samples are
// left out, and a bucket with none left is dropped, so that missing data
// does not plot as a zero. A series of at most limit samples keeps its
// finite samples as they are.
func downsample(xs, ys []float64, limit int, agg aggregation) plotter.XYs {
	n := min(len(xs), len(ys))
	if n == 0 {
		return nil
	}
	limit = max(limit, 1)
	size := (n + limit - 1) / limit
	out := make(plotter.XYs, 0, min(n, limit))
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		// Running means rather than sums: a sum of huge finite values
		// could overflow to infinity, which gonum/plot rejects.
		var meanX, meanY float64
		maxY := math.Inf(-1)
		count := 0
		for i := lo; i < hi; i++ {
			x, y := xs[i], ys[i]
			if !finite(x) || !finite(y) {
				continue
			}
			count++
			meanX += (x - meanX) / float64(count)
			meanY += (y - meanY) / float64(count)
			maxY = max(maxY, y)
		}
		if count == 0 {
			continue
		}
		p := plotter.XY{X: meanX}
		switch agg {
		case aggMean:
			p.Y = meanY
		default:
			p.Y = maxY
		}
		out = append(out, p)
	}
	return out
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}
