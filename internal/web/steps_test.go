package web_test

// The dashboard's steps from a day up (api.js stepOf), on the downsampled
// tiers' grid: 24h 300 s (the 1m tier), 7d 1800 s (the 10m tier), 30d
// 7200 s (the 1h tier). Each point's rate window is 4 steps.
const (
	step24h = 300
	step7d  = 1800
	step30d = 7200
	// PeakPerStep is api.js PEAK_PER_STEP: a peak point's short window is
	// a tenth of the step, in whole minutes (3 at 7d, 12 at 30d).
	PeakPerStep = 10
)
