/* font.c — the view's fonts (found through fontconfig, else DejaVu Sans where Debian puts it)
 * and a cache of rendered text: each distinct (font, colour, string) becomes one texture once,
 * so a frame draws labels with a copy each instead of rasterising them again. */
#include "viz_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef HAVE_FONTCONFIG
#include <fontconfig/fontconfig.h>
#endif

#define FALLBACK_DIR "/usr/share/fonts/truetype/dejavu/"
#define FALLBACK_CJK "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
#define CACHE_MAX 4096 /* entries; the table is flushed when it is half full */

/* The file of a font matching pattern (e.g. "DejaVu Sans:bold"), into buf; false if none. */
static bool find_font(const char *pattern, const char *fallback, char *buf, size_t size)
{
#ifdef HAVE_FONTCONFIG
	FcConfig *cfg = FcInitLoadConfigAndFonts();
	if (cfg) {
		FcPattern *pat = FcNameParse((const FcChar8 *)pattern);
		bool found = false;
		if (pat) {
			FcConfigSubstitute(cfg, pat, FcMatchPattern);
			FcDefaultSubstitute(pat);
			FcResult res;
			FcPattern *match = FcFontMatch(cfg, pat, &res);
			FcChar8 *file = NULL;
			if (match && FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch) {
				const char *dot = strrchr((const char *)file, '.');
				/* SDL_ttf reads TrueType/OpenType; fontconfig may offer a bitmap font */
				if (dot && (strcasecmp(dot, ".ttf") == 0 || strcasecmp(dot, ".otf") == 0 ||
					    strcasecmp(dot, ".ttc") == 0)) {
					snprintf(buf, size, "%s", (const char *)file);
					found = true;
				}
			}
			if (match)
				FcPatternDestroy(match);
			FcPatternDestroy(pat);
		}
		FcConfigDestroy(cfg);
		if (found)
			return true;
	}
#else
	(void)pattern;
#endif
	FILE *f = fopen(fallback, "rb");
	if (!f)
		return false;
	fclose(f);
	snprintf(buf, size, "%s", fallback);
	return true;
}

int font_open(struct viz *v, int px, char *err, size_t errsize)
{
	if (!TTF_WasInit() && TTF_Init() < 0) {
		snprintf(err, errsize, "cannot start SDL_ttf: %s", TTF_GetError());
		return -1;
	}
	static const char *const patterns[FONT_COUNT][2] = {
		{"DejaVu Sans:style=Book", FALLBACK_DIR "DejaVuSans.ttf"},
		{"DejaVu Sans:style=Bold", FALLBACK_DIR "DejaVuSans-Bold.ttf"},
	};
	for (int f = 0; f < FONT_COUNT; f++) {
		char path[1024];
		if (!find_font(patterns[f][0], patterns[f][1], path, sizeof path) &&
		    !find_font(patterns[0][0], patterns[0][1], path, sizeof path)) {
			snprintf(err, errsize, "no font found: fontconfig has no TrueType \"DejaVu Sans\" "
				 "and %s is missing (install fonts-dejavu-core)", patterns[0][1]);
			font_close(v);
			return -1;
		}
		v->font[f] = TTF_OpenFont(path, px);
		if (!v->font[f]) {
			snprintf(err, errsize, "cannot open the font %s: %s", path, TTF_GetError());
			font_close(v);
			return -1;
		}
		TTF_SetFontHinting(v->font[f], TTF_HINTING_LIGHT);
	}
	/* DejaVu has no CJK: the seeds' programs print Chinese. A font that has it (fonts-wqy-
	 * microhei or Noto CJK), when there is one, draws what DejaVu lacks. */
	char path[1024];
	if (find_font("sans:lang=zh-cn", FALLBACK_CJK, path, sizeof path) &&
	    strstr(path, "DejaVu") == NULL) {
		v->fallback = TTF_OpenFont(path, px);
		if (v->fallback)
			TTF_SetFontHinting(v->fallback, TTF_HINTING_LIGHT);
	}
	v->font_px = px;
	return 0;
}

void font_close(struct viz *v)
{
	text_cache_clear(v);
	free(v->cache);
	v->cache = NULL;
	v->capcache = 0;
	for (int f = 0; f < FONT_COUNT; f++) {
		if (v->font[f])
			TTF_CloseFont(v->font[f]);
		v->font[f] = NULL;
	}
	if (v->fallback)
		TTF_CloseFont(v->fallback);
	v->fallback = NULL;
	if (TTF_WasInit())
		TTF_Quit(); /* counted: balanced with the TTF_Init in font_open */
}

void text_cache_clear(struct viz *v)
{
	for (int i = 0; i < v->capcache; i++) {
		struct text_entry *e = &v->cache[i];
		if (!e->s)
			continue;
		if (e->tex)
			SDL_DestroyTexture(e->tex);
		free(e->s);
		memset(e, 0, sizeof *e);
	}
	v->ncache = 0;
}

static uint32_t hash_of(int f, uint32_t rgba, const char *s)
{
	uint32_t h = 2166136261u ^ (uint32_t)f * 131u ^ rgba;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* Decodes the UTF-8 character at s; invalid bytes read as U+FFFD, one byte each. */
static int utf8_next(const char *s, Uint32 *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	int n = u[0] < 0x80 ? 1 : (u[0] & 0xE0) == 0xC0 ? 2 : (u[0] & 0xF0) == 0xE0 ? 3
		: (u[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 0) {
		*cp = 0xFFFD;
		return 1;
	}
	Uint32 c = n == 1 ? u[0] : u[0] & (0x7F >> n);
	for (int i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		c = c << 6 | (u[i] & 0x3F);
	}
	*cp = c;
	return n;
}

struct run {
	size_t start, len;
	TTF_Font *font;
};

/* Splits s into runs of one font: the main one, or the fallback for what the main lacks.
 * Returns how many (at most max; the rest joins the last run). */
static int split_runs(struct viz *v, int f, const char *s, struct run *runs, int max)
{
	int n = 0;
	for (size_t i = 0; s[i];) {
		Uint32 cp;
		int len = utf8_next(s + i, &cp);
		TTF_Font *font = v->font[f];
		if (cp >= 0x80 && v->fallback && !TTF_GlyphIsProvided32(font, cp) &&
		    TTF_GlyphIsProvided32(v->fallback, cp))
			font = v->fallback;
		if (n > 0 && (runs[n - 1].font == font || n == max))
			runs[n - 1].len += (size_t)len;
		else
			runs[n++] = (struct run){i, (size_t)len, font};
		i += (size_t)len;
	}
	return n;
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* The text as one surface, each run in its font, on a common baseline. */
static SDL_Surface *render_text(struct viz *v, int f, SDL_Color c, const char *s)
{
	if (!v->fallback || ascii(s))
		return TTF_RenderUTF8_Blended(v->font[f], s, c);
	struct run runs[32];
	int n = split_runs(v, f, s, runs, 32);
	if (n == 1)
		return TTF_RenderUTF8_Blended(runs[0].font, s, c);
	SDL_Surface *part[32];
	int w = 0, asc = 0, desc = 0;
	for (int i = 0; i < n; i++) {
		char *piece = strndup(s + runs[i].start, runs[i].len);
		part[i] = piece ? TTF_RenderUTF8_Blended(runs[i].font, piece, c) : NULL;
		free(piece);
		if (part[i]) {
			w += part[i]->w;
			int a = TTF_FontAscent(runs[i].font);
			asc = a > asc ? a : asc;
			int d = part[i]->h - a;
			desc = d > desc ? d : desc;
		}
	}
	SDL_Surface *all = w > 0 ? SDL_CreateRGBSurfaceWithFormat(0, w, asc + desc, 32,
								   SDL_PIXELFORMAT_ARGB8888) : NULL;
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!part[i])
			continue;
		if (all) {
			SDL_SetSurfaceBlendMode(part[i], SDL_BLENDMODE_NONE);
			SDL_Rect dst = {x, asc - TTF_FontAscent(runs[i].font), part[i]->w, part[i]->h};
			SDL_BlitSurface(part[i], NULL, all, &dst);
		}
		x += part[i]->w;
		SDL_FreeSurface(part[i]);
	}
	return all;
}

SDL_Texture *text_get(struct viz *v, int f, SDL_Color c, const char *s, int *w, int *h)
{
	*w = *h = 0;
	if (!s || !s[0] || !v->ren)
		return NULL;
	if (!v->cache) {
		v->cache = calloc(CACHE_MAX, sizeof *v->cache);
		if (!v->cache)
			return NULL;
		v->capcache = CACHE_MAX;
	}
	uint32_t rgba = (uint32_t)c.r << 24 | (uint32_t)c.g << 16 | (uint32_t)c.b << 8 | c.a;
	uint32_t hash = hash_of(f, rgba, s);
	uint32_t mask = (uint32_t)v->capcache - 1;
	uint32_t i = hash & mask;
	for (; v->cache[i].s; i = (i + 1) & mask) {
		struct text_entry *e = &v->cache[i];
		if (e->hash == hash && e->rgba == rgba && e->font == f && strcmp(e->s, s) == 0) {
			*w = e->w;
			*h = e->h;
			return e->tex;
		}
	}
	if (v->ncache >= v->capcache / 2) {
		text_cache_clear(v);
		i = hash & mask;
	}
	SDL_Surface *surf = render_text(v, f, c, s);
	if (!surf)
		return NULL;
	SDL_Texture *tex = SDL_CreateTextureFromSurface(v->ren, surf);
	struct text_entry *e = &v->cache[i];
	e->s = strdup(s);
	if (!e->s) {
		if (tex)
			SDL_DestroyTexture(tex);
		SDL_FreeSurface(surf);
		return NULL;
	}
	e->hash = hash;
	e->rgba = rgba;
	e->font = f;
	e->tex = tex;
	e->w = surf->w;
	e->h = surf->h;
	v->ncache++;
	SDL_FreeSurface(surf);
	*w = e->w;
	*h = e->h;
	return tex;
}

int text_width(struct viz *v, int f, const char *s)
{
	if (!s || !s[0])
		return 0;
	int w = 0, h = 0;
	if (!v->fallback || ascii(s)) {
		TTF_SizeUTF8(v->font[f], s, &w, &h);
		return w;
	}
	struct run runs[32];
	int n = split_runs(v, f, s, runs, 32);
	for (int i = 0; i < n; i++) {
		char *piece = strndup(s + runs[i].start, runs[i].len);
		int pw = 0;
		if (piece)
			TTF_SizeUTF8(runs[i].font, piece, &pw, &h);
		free(piece);
		w += pw;
	}
	return w;
}

int text_draw(struct viz *v, int f, SDL_Color c, const char *s, int x, int y, int maxw)
{
	if (!s || !s[0])
		return 0;
	char cut[512];
	if (maxw > 0 && text_width(v, f, s) > maxw) {
		/* the longest prefix (in whole characters) that fits with "…" after it */
		size_t len = strlen(s), lo = 0, hi = len < sizeof cut - 4 ? len : sizeof cut - 4;
		while (lo < hi) {
			size_t mid = (lo + hi + 1) / 2;
			while (mid > lo && ((unsigned char)s[mid] & 0xC0) == 0x80)
				mid--;
			if (mid == lo) {
				mid = lo + 1;
				while (mid < hi && ((unsigned char)s[mid] & 0xC0) == 0x80)
					mid++;
			}
			memcpy(cut, s, mid);
			memcpy(cut + mid, "…", sizeof "…");
			if (text_width(v, f, cut) <= maxw)
				lo = mid;
			else
				hi = mid - 1;
		}
		while (lo > 0 && ((unsigned char)s[lo] & 0xC0) == 0x80)
			lo--;
		if (lo == 0)
			return 0;
		memcpy(cut, s, lo);
		memcpy(cut + lo, "…", sizeof "…");
		s = cut;
	}
	int w, h;
	SDL_Texture *tex = text_get(v, f, c, s, &w, &h);
	if (!tex)
		return 0;
	SDL_Rect dst = {x, y, w, h};
	SDL_RenderCopy(v->ren, tex, NULL, &dst);
	return w;
}
