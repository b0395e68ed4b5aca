// PNG charts (host/out/plot.c): the files decode with libpng and show
// what they should where they should: series colours in the plot area,
// the right shades in confusion-matrix cells, text in the title band.
#include <gtest/gtest.h>

#include <png.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuflow/plot.h"
#include "test_util.h"

namespace {

struct Image {
	int w = 0, h = 0;
	std::vector<uint8_t> px; // RGB
	const uint8_t *at(int x, int y) const { return &px[((size_t)y * w + x) * 3]; }
	bool is(int x, int y, const uint8_t c[3]) const { return std::memcmp(at(x, y), c, 3) == 0; }
};

// Decoded with libpng's simplified API; fails the test when it does not.
Image load(const std::string &path)
{
	Image im;
	png_image p;
	std::memset(&p, 0, sizeof p);
	p.version = PNG_IMAGE_VERSION;
	EXPECT_TRUE(png_image_begin_read_from_file(&p, path.c_str())) << path << ": " << p.message;
	if (PNG_IMAGE_FAILED(p))
		return im;
	p.format = PNG_FORMAT_RGB;
	im.w = (int)p.width;
	im.h = (int)p.height;
	im.px.resize(PNG_IMAGE_SIZE(p));
	EXPECT_TRUE(png_image_finish_read(&p, nullptr, im.px.data(), 0, nullptr)) << p.message;
	return im;
}

// Pixels of colour c in [x0, x1) x [y0, y1).
int count(const Image &im, const uint8_t c[3], int x0, int y0, int x1, int y1)
{
	int n = 0;
	for (int y = y0; y < y1 && y < im.h; y++)
		for (int x = x0; x < x1 && x < im.w; x++)
			n += im.is(x, y, c);
	return n;
}

// Pixels clearly darker than the background (text, axes).
int dark(const Image &im, int x0, int y0, int x1, int y1)
{
	int n = 0;
	for (int y = y0; y < y1 && y < im.h; y++)
		for (int x = x0; x < x1 && x < im.w; x++) {
			const uint8_t *p = im.at(x, y);
			n += p[0] + p[1] + p[2] < 300;
		}
	return n;
}

} // namespace

TEST(Plot, LinesDrawSeriesInTheirColours)
{
	const int n = 10;
	std::vector<double> loss(n), acc(n);
	for (int k = 0; k < n; k++) {
		loss[k] = 2.0 / (k + 1);      // falling
		acc[k] = 0.2 + 0.08 * k;      // rising
	}
	const double *vals[] = {loss.data(), acc.data()};
	const char *names[] = {"train loss", "val accuracy"};
	std::string path = cft::temp_path(".png");
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_lines_png(path.c_str(), "Training", "epoch", 2, names, vals, n, err), CF_OK) << err;
	EXPECT_FALSE(cft::exists(path + ".tmp"));

	auto bytes = cft::read_file(path);
	ASSERT_GE(bytes.size(), 24u);
	EXPECT_EQ(std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8), 0);
	EXPECT_EQ(std::memcmp(bytes.data() + 12, "IHDR", 4), 0);
	Image im = load(path);
	ASSERT_EQ(im.w, 800);
	ASSERT_EQ(im.h, 500);

	uint8_t c0[3], c1[3];
	cf_plot_series_color(0, c0);
	cf_plot_series_color(1, c1);
	EXPECT_NE(std::memcmp(c0, c1, 3), 0);
	// The plot area is left of the legend: a line across ~9 epochs, 2 px thick.
	EXPECT_GT(count(im, c0, 0, 40, 600, 460), 800);
	EXPECT_GT(count(im, c1, 0, 40, 600, 460), 800);
	// Direction: a rising series sits higher (smaller y) on the right.
	auto mean_y = [&](const uint8_t *c, int x0, int x1) {
		double s = 0;
		int m = 0;
		for (int y = 40; y < 460; y++)
			for (int x = x0; x < x1; x++)
				if (im.is(x, y, c)) {
					s += y;
					m++;
				}
		return m ? s / m : NAN;
	};
	EXPECT_GT(mean_y(c1, 80, 200), mean_y(c1, 380, 480));
	EXPECT_LT(mean_y(c0, 80, 200), mean_y(c0, 380, 480));
	// Text in the title band, a legend swatch of each colour right of the plot.
	EXPECT_GT(dark(im, 0, 0, im.w, 34), 40);
	EXPECT_GT(count(im, c0, 600, 40, 800, 120), 20);
	EXPECT_GT(count(im, c1, 600, 40, 800, 120), 20);
	// Tick labels left of and below the plot.
	EXPECT_GT(dark(im, 0, 60, 40, 440), 30);
	EXPECT_GT(dark(im, 40, 460, 600, 500), 30);
}

TEST(Plot, LinesWithoutTitleLeaveTheBandEmpty)
{
	double v[3] = {1, 2, 3};
	const double *vals[] = {v};
	std::string path = cft::temp_path(".png");
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_lines_png(path.c_str(), "", nullptr, 1, nullptr, vals, 3, err), CF_OK) << err;
	Image im = load(path);
	EXPECT_EQ(dark(im, 0, 0, im.w, 34), 0);
}

TEST(Plot, LinesNaNSinglePointAndFlatSeries)
{
	char err[CF_ERRBUF_SIZE] = "";
	uint8_t c0[3];
	cf_plot_series_color(0, c0);
	{ // one point: drawn as a marker
		double v[1] = {0.5};
		const double *vals[] = {v};
		std::string path = cft::temp_path(".png");
		ASSERT_EQ(cf_plot_lines_png(path.c_str(), "one", "epoch", 1, nullptr, vals, 1, err), CF_OK) << err;
		Image im = load(path);
		EXPECT_GE(count(im, c0, 0, 40, 600, 460), 25);
	}
	{ // gaps, infinities, a series that is all NaN, a flat one
		double a[6] = {1, NAN, 3, INFINITY, 2, NAN}, b[6], f[6];
		for (int k = 0; k < 6; k++) {
			b[k] = NAN;
			f[k] = 7;
		}
		const double *vals[] = {a, b, f};
		const char *names[] = {"gappy", nullptr, "flat"};
		std::string path = cft::temp_path(".png");
		ASSERT_EQ(cf_plot_lines_png(path.c_str(), "gaps", "epoch", 3, names, vals, 6, err), CF_OK) << err;
		Image im = load(path);
		EXPECT_GT(count(im, c0, 0, 40, 600, 460), 25);
	}
	{ // nothing plottable at all: empty axes, still a valid image
		double v[2] = {NAN, NAN};
		const double *vals[] = {v};
		std::string path = cft::temp_path(".png");
		ASSERT_EQ(cf_plot_lines_png(path.c_str(), nullptr, nullptr, 1, nullptr, vals, 2, err), CF_OK) << err;
		EXPECT_EQ(load(path).w, 800);
	}
	{ // many series and many points: legend overflow, no markers
		const int S = 50, N = 500;
		std::vector<std::vector<double>> v(S, std::vector<double>(N));
		std::vector<const double *> p;
		for (int s = 0; s < S; s++) {
			for (int k = 0; k < N; k++)
				v[s][k] = std::sin(k * 0.01 + s) * 1e7;
			p.push_back(v[s].data());
		}
		std::string path = cft::temp_path(".png");
		ASSERT_EQ(cf_plot_lines_png(path.c_str(), "many", "epoch", S, nullptr, p.data(), N, err), CF_OK) << err;
		EXPECT_EQ(load(path).h, 500);
	}
}

TEST(Plot, LinesRejectBadArguments)
{
	double v[2] = {1, 2};
	const double *vals[] = {v};
	char err[CF_ERRBUF_SIZE] = "";
	std::string path = cft::temp_path(".png");
	EXPECT_EQ(cf_plot_lines_png(path.c_str(), "t", "x", 0, nullptr, vals, 2, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
	EXPECT_EQ(cf_plot_lines_png(path.c_str(), "t", "x", 1, nullptr, vals, 0, err), CF_ERR_ARG);
	const double *none[] = {nullptr};
	EXPECT_EQ(cf_plot_lines_png(path.c_str(), "t", "x", 1, nullptr, none, 2, err), CF_ERR_ARG);
	EXPECT_FALSE(cft::exists(path));
}

TEST(Plot, BadPathIsAnErrorNamingIt)
{
	double v[2] = {1, 2};
	const double *vals[] = {v};
	char err[CF_ERRBUF_SIZE] = "";
	std::string path = cft::temp_path("") + "/no-such-dir/chart.png";
	EXPECT_EQ(cf_plot_lines_png(path.c_str(), "t", "x", 1, nullptr, vals, 2, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
	EXPECT_NE(std::string(err).find("No such file"), std::string::npos) << err;
	uint64_t counts[4] = {1, 0, 0, 1};
	err[0] = '\0';
	EXPECT_EQ(cf_plot_confusion_png(path.c_str(), "t", 2, nullptr, counts, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
}

namespace {
// The top-left cell of colour c: the first pixel of c scanning columns
// left to right (the colour bar, right of the matrix, comes later), and
// the cell pitch from the run of c along its top row (cells are cell-1
// px with a 1 px gap; counts are centred, clear of the top row).
struct Grid {
	int x0 = -1, y0 = -1, cell = 0;
};
Grid find_cell(const Image &im, const uint8_t c[3])
{
	Grid g;
	for (int x = 0; x < im.w && g.x0 < 0; x++)
		for (int y = 0; y < im.h; y++)
			if (im.is(x, y, c)) {
				g.x0 = x;
				g.y0 = y;
				break;
			}
	if (g.x0 < 0)
		return g;
	int x = g.x0;
	while (x < im.w && im.is(x, g.y0, c))
		x++;
	g.cell = x - g.x0 + 1;
	return g;
}
} // namespace

TEST(Plot, ConfusionPerfectClassifierShades)
{
	const int C = 4;
	std::vector<uint64_t> counts(C * C, 0);
	for (int i = 0; i < C; i++)
		counts[i * C + i] = 10 + 37 * i;
	const char *names[] = {"benign", "dos", "portscan", "a-very-long-class-name-indeed"};
	std::string path = cft::temp_path(".png");
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_confusion_png(path.c_str(), "Confusion", C, names, counts.data(), err), CF_OK) << err;
	EXPECT_FALSE(cft::exists(path + ".tmp"));
	Image im = load(path);
	ASSERT_GT(im.w, 0);
	EXPECT_GT(dark(im, 0, 0, im.w, 34), 40); // title

	uint8_t darkest[3], lightest[3];
	cf_plot_shade(1.0, darkest);
	cf_plot_shade(0.0, lightest);
	Grid g = find_cell(im, darkest); // cell (0,0)
	ASSERT_GT(g.cell, 10);
	for (int i = 0; i < C; i++)
		for (int j = 0; j < C; j++) {
			// a corner of the cell, clear of the centred count
			int x = g.x0 + j * g.cell, y = g.y0 + i * g.cell;
			EXPECT_TRUE(im.is(x, y, i == j ? darkest : lightest)) << i << "," << j;
		}
	// The count is written in white on a diagonal cell.
	uint8_t white[3] = {255, 255, 255};
	EXPECT_GT(count(im, white, g.x0, g.y0, g.x0 + g.cell - 1, g.y0 + g.cell - 1), 5);
	// Class names left of the matrix and below it.
	EXPECT_GT(dark(im, 0, g.y0, g.x0 - 3, g.y0 + C * g.cell), 50);
	EXPECT_GT(dark(im, g.x0, g.y0 + C * g.cell + 3, g.x0 + C * g.cell, im.h), 50);
}

TEST(Plot, ConfusionRowsAreNormalisedPerRow)
{
	// row 0: 8 / 2 -> 0.8 / 0.2; row 1: 0 / 1000 -> 0 / 1; row 2: nothing -> 0
	const int C = 3;
	uint64_t counts[C * C] = {8, 2, 0, 0, 1000, 0, 0, 0, 0};
	std::string path = cft::temp_path(".png");
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_confusion_png(path.c_str(), "rows", C, nullptr, counts, err), CF_OK) << err;
	Image im = load(path);
	uint8_t s[3][3], d[3];
	cf_plot_shade(1.0, d);
	cf_plot_shade(0.0, s[0]);
	cf_plot_shade(0.2, s[1]);
	cf_plot_shade(0.8, s[2]);
	Grid g = find_cell(im, s[2]); // cell (0,0)
	ASSERT_GT(g.cell, 10);
	auto at = [&](int i, int j) { return im.at(g.x0 + j * g.cell, g.y0 + i * g.cell); };
	EXPECT_EQ(std::memcmp(at(0, 0), s[2], 3), 0);
	EXPECT_EQ(std::memcmp(at(0, 1), s[1], 3), 0);
	EXPECT_EQ(std::memcmp(at(0, 2), s[0], 3), 0);
	EXPECT_EQ(std::memcmp(at(1, 0), s[0], 3), 0);
	EXPECT_EQ(std::memcmp(at(1, 1), d, 3), 0);
	for (int j = 0; j < C; j++)
		EXPECT_EQ(std::memcmp(at(2, j), s[0], 3), 0) << j; // empty row: no division by zero
}

TEST(Plot, ConfusionSizesAndLimits)
{
	char err[CF_ERRBUF_SIZE] = "";
	std::string path = cft::temp_path(".png");
	uint64_t one = 5;
	EXPECT_EQ(cf_plot_confusion_png(path.c_str(), "t", 0, nullptr, &one, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
	EXPECT_EQ(cf_plot_confusion_png(path.c_str(), "t", -3, nullptr, &one, err), CF_ERR_ARG);
	EXPECT_EQ(cf_plot_confusion_png(path.c_str(), "t", 2, nullptr, nullptr, err), CF_ERR_ARG);
	EXPECT_FALSE(cft::exists(path));

	ASSERT_EQ(cf_plot_confusion_png(path.c_str(), "one", 1, nullptr, &one, err), CF_OK) << err;
	Image small = load(path);

	// The image grows with C, up to the cap; past it the size stays put.
	auto size_for = [&](int C) {
		std::vector<uint64_t> counts((size_t)C * C);
		for (size_t k = 0; k < counts.size(); k++)
			counts[k] = (k * 2654435761u) % 5000;
		std::vector<std::string> names;
		std::vector<const char *> np;
		for (int i = 0; i < C; i++)
			names.push_back("class-\xc3\xa9-" + std::to_string(i) + "-with-a-long-name");
		for (auto &n : names)
			np.push_back(n.c_str());
		std::string p = cft::temp_path(".png");
		EXPECT_EQ(cf_plot_confusion_png(p.c_str(), "big", C, np.data(), counts.data(), err), CF_OK) << err;
		Image im = load(p);
		return std::make_pair(im.w, im.h);
	};
	auto s10 = size_for(10), s40 = size_for(40), s60 = size_for(60), s200 = size_for(200);
	EXPECT_GE(s10.second, small.h);
	EXPECT_GT(s40.second, s10.second);
	EXPECT_GT(s60.second, s40.second);
	EXPECT_EQ(s200, s60);
	EXPECT_LE(s60.first, 1400);
	EXPECT_LE(s60.second, 1400);
}

TEST(Plot, ConfusionLargeCountsAreCompacted)
{
	// A 30-class matrix with huge counts: cells too small for 20 digits.
	const int C = 30;
	std::vector<uint64_t> counts((size_t)C * C, UINT64_C(12345678901234567));
	std::string path = cft::temp_path(".png");
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_confusion_png(path.c_str(), nullptr, C, nullptr, counts.data(), err), CF_OK) << err;
	EXPECT_GT(load(path).w, 0);
}

TEST(Plot, WriteRgbRoundTrips)
{
	const int w = 3, h = 2;
	uint8_t px[w * h * 3];
	for (int k = 0; k < w * h * 3; k++)
		px[k] = (uint8_t)(k * 13);
	std::string path = cft::temp_path(".png");
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_write_rgb_png(path.c_str(), px, w, h, err), CF_OK) << err;
	Image im = load(path);
	ASSERT_EQ(im.w, w);
	ASSERT_EQ(im.h, h);
	EXPECT_EQ(std::memcmp(im.px.data(), px, sizeof px), 0);
	EXPECT_EQ(cf_plot_write_rgb_png(path.c_str(), px, 0, h, err), CF_ERR_ARG);
}

// Not a check: renders one of each for a person to look at.
TEST(Plot, ExamplesForEyes)
{
	std::string dir = cft::env("CUFLOW_PLOT_EXAMPLES");
	if (dir.empty())
		GTEST_SKIP() << "set CUFLOW_PLOT_EXAMPLES=DIR to render examples";
	const int n = 30;
	std::vector<double> tl(n), vl(n), ta(n), va(n);
	for (int k = 0; k < n; k++) {
		tl[k] = 1.6 * std::exp(-k / 6.0) + 0.05;
		vl[k] = 1.7 * std::exp(-k / 7.0) + 0.12 + 0.004 * k + (k == 12 ? NAN : 0);
		ta[k] = 1 - 0.7 * std::exp(-k / 5.0);
		va[k] = 1 - 0.72 * std::exp(-k / 6.0) - 0.03;
	}
	const double *vals[] = {tl.data(), vl.data(), ta.data(), va.data()};
	const char *names[] = {"train loss", "val loss", "train accuracy", "val accuracy"};
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_plot_lines_png((dir + "/plot_example_lines.png").c_str(), "mlp on flows.parquet: learning curves",
	                            "epoch", 4, names, vals, n, err),
	          CF_OK)
	    << err;
	const int C = 6;
	const char *cls[] = {"benign", "dos-hulk", "portscan", "ddos", "bot", "web-attack-brute-force"};
	uint64_t counts[C * C] = {9500, 120, 30, 10,   0,   5,   80,   4100, 2,  300, 0, 0,  12, 0,   3900, 0,  0, 0,
	                          40,   260, 0,  6000, 0,   0,   33,   0,    0,  0,   640, 0, 90, 0,   0,    0,  1, 21};
	ASSERT_EQ(cf_plot_confusion_png((dir + "/plot_example_confusion.png").c_str(), "mlp: confusion matrix (test)", C,
	                                cls, counts, err),
	          CF_OK)
	    << err;
	const int B = 45;
	std::vector<uint64_t> big((size_t)B * B);
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++)
			big[(size_t)i * B + j] = i == j ? 200 + 37 * i : ((i * 7 + j * 3) % 11 == 0 ? (i + j) % 40 : 0);
	std::vector<std::string> bn;
	std::vector<const char *> bp;
	for (int i = 0; i < B; i++)
		bn.push_back("app-" + std::to_string(i) + (i % 5 == 0 ? "-streaming-video" : ""));
	for (auto &s : bn)
		bp.push_back(s.c_str());
	ASSERT_EQ(cf_plot_confusion_png((dir + "/plot_example_confusion45.png").c_str(), "45 classes", B, bp.data(),
	                                big.data(), err),
	          CF_OK)
	    << err;
}
