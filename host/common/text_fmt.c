#include "common/text_fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/* Two digits per division (a writer of millions of rows spends its time
 * here: 19-digit nanosecond timestamps), written backwards into a scratch
 * and copied out: one pass, no digit count first. */
char *cf_fmt_u64(char *p, uint64_t v)
{
	char tmp[20], *end = tmp + sizeof tmp, *q = end;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		q -= 2;
		memcpy(q, digit_pairs + 2 * r, 2);
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, digit_pairs + 2 * v, 2);
	} else {
		*--q = (char)('0' + v);
	}
	memcpy(p, q, (size_t)(end - q));
	return p + (end - q);
}

char *cf_fmt_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return cf_fmt_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return cf_fmt_u64(p, (uint64_t)v);
}

typedef unsigned __int128 u128;

static u128 pow10_u128(int k)
{
	u128 r = 1;
	while (k-- > 0)
		r *= 10;
	return r;
}

/* m * 2^-s * 10^k (m < 2^53, 1 <= s <= 127): its integer part in *q and
 * whether to round it up (nearest, ties to even: printf's rounding);
 * exact in 128 bits while m * 10^k < 2^127, i.e. k <= 22. */
static void scaled(uint64_t m, int s, int k, uint64_t *q, int *up)
{
	u128 num = (u128)m * pow10_u128(k);
	u128 t = num >> s, rem = num & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
	*q = (uint64_t)t;
	*up = rem > half || (rem == half && (t & 1));
}

/* %.17g of a positive finite v with a fractional binary exponent and
 * 1e-6 <= v < 1e17, written exactly; 0 when v is outside that range. */
static int g17_exact(char *out, double v)
{
	int e2;
	double fr = frexp(v, &e2); /* v = fr * 2^e2, 0.5 <= fr < 1 */
	uint64_t m = (uint64_t)ldexp(fr, 53);
	int s = 53 - e2;           /* v = m * 2^-s */
	if (s < 1 || s > 127 || v < 1e-6 || v >= 1e17)
		return 0;
	/* decimal exponent X: the one that puts 17 digits before the point,
	 * found on the truncated value, then the rounding */
	int X = (int)floor(log10(v)), up = 0;
	uint64_t D = 0;
	for (int tries = 0;; tries++) {
		int k = 16 - X;
		if (k < 0 || k > 22 || tries == 3)
			return 0;
		scaled(m, s, k, &D, &up);
		if (D >= 100000000000000000ull)
			X++;
		else if (D < 10000000000000000ull)
			X--;
		else
			break;
	}
	D += (uint64_t)up;
	if (D == 100000000000000000ull) { /* 9.99..95 rounded up to 10.0 */
		D /= 10;
		X++;
	}
	char dig[17];
	for (int i = 16; i >= 0; i--) {
		dig[i] = (char)('0' + D % 10);
		D /= 10;
	}
	int nd = 17;
	while (nd > 1 && dig[nd - 1] == '0') /* %g drops trailing zeros */
		nd--;
	char *p = out;
	if (X >= -4 && X < 17) {
		if (X >= 0) {
			for (int i = 0; i <= X; i++)
				*p++ = i < nd ? dig[i] : '0';
			if (nd > X + 1) {
				*p++ = '.';
				for (int i = X + 1; i < nd; i++)
					*p++ = dig[i];
			}
		} else {
			*p++ = '0';
			*p++ = '.';
			for (int i = 0; i < -X - 1; i++)
				*p++ = '0';
			for (int i = 0; i < nd; i++)
				*p++ = dig[i];
		}
	} else {
		*p++ = dig[0];
		if (nd > 1) {
			*p++ = '.';
			for (int i = 1; i < nd; i++)
				*p++ = dig[i];
		}
		*p++ = 'e';
		*p++ = X < 0 ? '-' : '+';
		int ax = X < 0 ? -X : X;
		if (ax < 10)
			*p++ = '0';
		p = cf_fmt_u64(p, (uint64_t)ax);
	}
	return (int)(p - out);
}

char *cf_fmt_g17(char *p, double v)
{
	/* An integral double below 1e15 has at most 15 digits, which %.17g
	 * prints in full, without exponent or point; -0.0 prints as "-0". */
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {
		if (v == 0 && signbit(v))
			*p++ = '-';
		return cf_fmt_i64(p, (int64_t)v);
	}
	if (isfinite(v)) {
		int n = g17_exact(p + (v < 0), fabs(v));
		if (n > 0) {
			if (v < 0)
				*p = '-';
			return p + (v < 0) + n;
		}
	}
	char tmp[CF_FMT_MAX];
	int n = snprintf(tmp, sizeof tmp, "%.17g", v);
	memcpy(p, tmp, (size_t)n);
	return p + n;
}

char *cf_fmt_ipv4(char *p, const uint8_t a[4])
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = cf_fmt_u64(p, a[i]);
	}
	return p;
}

void cf_fput_json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void cf_fput_csv_field(FILE *f, const char *v)
{
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', f);
		fputc(*v, f);
	}
	fputc('"', f);
}
