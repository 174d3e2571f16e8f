/* Unit tests for branding: WCAG contrast with known vectors, colours, logo sniffing, the file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "../../src/signald/branding.h"

/* A PNG's signature and IHDR chunk (1x1, RGBA), as the first 33 bytes of any PNG. */
static const unsigned char png_head[33] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I',  'H',  'D',  'R', 0,
    0,    0,   1,   0,   0,    0,    1,    8,    6, 0, 0, 0,  0x1f, 0x15, 0xc4, 0x89};

#define SVG_OK "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><rect/></svg>"

static bool near(double a, double b)
{
    return fabs(a - b) < 0.001;
}

static double ratio(const char *a, const char *b)
{
    unsigned char x[3], y[3];

    if (branding_parse_colour(a, x) < 0 || branding_parse_colour(b, y) < 0)
        return -1;
    return branding_contrast(x, y);
}

TEST(branding_contrast_matches_known_vectors)
{
    static const struct {
        const char *a, *b;
        double want;
    } cases[] = {
        {"#000", "#fff", 21.0},         {"#ffffff", "#FFFFFF", 1.0}, {"#777777", "#fff", 4.4781},
        {"#767676", "#ffffff", 4.5422}, {"#005eb8", "#fff", 6.3767}, {"#ff0000", "#ffffff", 3.9985},
        {"#0000ff", "#fff", 8.5925},    {"#00a499", "#fff", 3.1018}, {"#ffeb3b", "#000", 17.1985},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double r = ratio(cases[i].a, cases[i].b), back = ratio(cases[i].b, cases[i].a);
        if (!CHECK(near(r, cases[i].want) && near(back, r)))
            fprintf(stderr, "    %s on %s: %.4f, want %.4f\n", cases[i].a, cases[i].b, r,
                    cases[i].want);
    }
    /* The AA line for text falls between these two greys. */
    CHECK(ratio("#767676", "#fff") >= BRANDING_MIN_CONTRAST);
    CHECK(ratio("#777777", "#fff") < BRANDING_MIN_CONTRAST);
}

TEST(branding_colours_parse_as_hex_only)
{
    static const char *const bad[] = {"",     "fff",     "#ff", "#ffff",    "#fffffff",
                                      "#ggg", "#12345g", "red", "#ff ff00", "rgb(0,0,0)"};
    unsigned char rgb[3];

    CHECK_INT(branding_parse_colour("#0B57a4", rgb), 0);
    CHECK(rgb[0] == 0x0b && rgb[1] == 0x57 && rgb[2] == 0xa4);
    CHECK_INT(branding_parse_colour("#f0a", rgb), 0);
    CHECK(rgb[0] == 0xff && rgb[1] == 0x00 && rgb[2] == 0xaa);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!CHECK_INT(branding_parse_colour(bad[i], rgb), -EINVAL))
            fprintf(stderr, "    accepted \"%s\"\n", bad[i]);
    CHECK_INT(branding_parse_colour(NULL, rgb), -EINVAL);
}

static int sniff(const void *buf, size_t len, const char **type, char *why)
{
    return branding_sniff_logo(buf, len, type, why, 160);
}

TEST(branding_logo_is_known_by_its_bytes)
{
    static const char *const svgs[] = {
        SVG_OK,
        "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- the logo -->\n<!DOCTYPE svg PUBLIC "
        "\"-//W3C//DTD "
        "SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n" SVG_OK,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">"
        "<defs><linearGradient id=\"g\"/></defs><use xlink:href=\"#g\"/><use href = '#g'/>"
        "<rect style=\"fill: url( '#g' )\" stroke-linejoin=\"round\"/><text>Riverside on "
        "Thames</text></svg>",
    };
    const char *type;
    char why[160];

    CHECK_INT(sniff(png_head, sizeof(png_head), &type, why), 0);
    CHECK_STR(type, "image/png");
    for (size_t i = 0; i < sizeof(svgs) / sizeof(svgs[0]); i++) {
        if (!CHECK_INT(sniff(svgs[i], strlen(svgs[i]), &type, why), 0))
            fprintf(stderr, "    case %zu: %s\n", i, why);
        else
            CHECK_STR(type, "image/svg+xml");
    }
}

TEST(branding_logo_refuses_other_images_and_unsafe_svg_saying_why)
{
    static const struct {
        const char *bytes, *why;
    } cases[] = {
        {"GIF89a\x01\x00\x01\x00\x80\x00\x00", "neither"},
        {"\xff\xd8\xff\xe0\x00\x10JFIF", "neither"},
        {"<html><body><svg></svg></body></html>", "neither"},
        {"<svgx/>", "neither"},
        {"<svg\xff\xfe></svg>", "neither"},
        {"<svg><script>alert(1)</script></svg>", "script (<script>)"},
        {"<svg><SCRIPT href=\"x.js\"/></svg>", "script"},
        {"<svg onload=\"alert(1)\"></svg>", "event handler"},
        {"<svg><rect\n onClick = 'x()'/></svg>", "event handler"},
        {"<svg><a href=\"https://evil.example/\"><rect/></a></svg>", "link to another file"},
        {"<svg><image xlink:href=\"http://tracker.example/p.png\"/></svg>", "link to another"},
        {"<svg><image href=data:image/png;base64,AAAA /></svg>", "link to another"},
        {"<svg><a href=\"javascript:alert(1)\"/></svg>", "script URL"},
        {"<svg><rect style=\"fill:url(https://x.example/f.svg#g)\"/></svg>", "url()"},
        {"<svg><style>@import 'https://x.example/a.css';</style></svg>", "@import"},
        {"<svg><foreignObject><div/></foreignObject></svg>", "foreignObject"},
        {"<svg><iframe src=\"https://x.example\"/></svg>", "embedded content"},
        {"<!DOCTYPE svg [<!ENTITY x \"y\">]><svg>&x;</svg>", "DOCTYPE"},
        {"<svg><set attributeName=\"href\" to=\"https://x.example\"/></svg>",
         "animation of a link"},
    };
    const char *type;
    char why[160];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        type = "set";
        int r = sniff(cases[i].bytes, strlen(cases[i].bytes), &type, why);
        if (!CHECK_INT(r, -EINVAL) || !CHECK(type == NULL) || !CHECK(strstr(why, cases[i].why)))
            fprintf(stderr, "    case %zu: %s\n", i, r == 0 ? "accepted" : why);
    }
    /* A PNG's signature with something else where IHDR belongs, and a NUL in an SVG. */
    unsigned char png[33];
    memcpy(png, png_head, sizeof(png));
    memcpy(png + 12, "IDAT", 4);
    CHECK_INT(sniff(png, sizeof(png), &type, why), -EINVAL);
    CHECK_INT(sniff(png_head, 20, &type, why), -EINVAL);
    CHECK_INT(sniff("<svg>\0</svg>", 12, &type, why), -EINVAL);
    CHECK_INT(sniff("", 0, &type, why), -EINVAL);
}

/* A scratch directory for branding files. */
struct dir {
    char path[64];
};

static void put(const struct dir *d, const char *name, const void *bytes, size_t len)
{
    char p[160];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", d->path, name);
    f = fopen(p, "wb");
    if (f) {
        fwrite(bytes, 1, len, f);
        fclose(f);
    }
}

static int load(const struct dir *d, const char *json, struct branding *b, char *err)
{
    char p[160];

    put(d, "branding.json", json, strlen(json));
    snprintf(p, sizeof(p), "%s/branding.json", d->path);
    return branding_load(p, b, err, 256);
}

static void dir_rm(struct dir *d)
{
    static const char *const names[] = {"branding.json", "logo.svg", "logo.png", "big.png",
                                        "logo.gif"};
    char p[160];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", d->path, names[i]);
        unlink(p);
    }
    rmdir(d->path);
}

TEST(branding_file_gives_the_pages_their_json_and_logo)
{
    struct dir d;
    struct branding b;
    char err[256] = "";

    snprintf(d.path, sizeof(d.path), "/tmp/vc-test-branding-XXXXXX");
    if (!CHECK(mkdtemp(d.path)))
        return;
    /* A PNG in a file called .svg: the bytes decide. */
    put(&d, "logo.svg", png_head, sizeof(png_head));
    if (CHECK_INT(
            load(&d,
                 "{\"# note\":\"ignored\",\"name\":\"Riverside Surgery\",\"logo\":\"logo.svg\","
                 "\"colour\":\"#005EB8\",\"text-colour\":\"#fff\",\"phone\":\"020 7946 0000\","
                 "\"privacy-url\":\"https://riverside.example/privacy\"}",
                 &b, err),
            0)) {
        CHECK_STR(b.json, "{\"name\":\"Riverside Surgery\",\"colour\":\"#005eb8\",\"text_colour\":"
                          "\"#ffffff\",\"phone\":\"020 7946 0000\",\"privacy_url\":"
                          "\"https://riverside.example/privacy\",\"logo\":\"/branding/logo\"}");
        CHECK_STR(b.logo_type, "image/png");
        CHECK_INT(b.logo_len, sizeof(png_head));
        branding_free(&b);
    } else {
        fprintf(stderr, "    %s\n", err);
    }
    /* Nothing given: the neutral defaults; a name alone keeps the default colours. */
    CHECK_INT(branding_load(NULL, &b, err, sizeof(err)), 0);
    CHECK_STR(b.json, "{}");
    CHECK(b.logo == NULL);
    branding_free(&b);
    CHECK_INT(load(&d, "{\"name\":\"Ysbyty Gwynedd\"}", &b, err), 0);
    CHECK_STR(b.json,
              "{\"name\":\"Ysbyty Gwynedd\",\"colour\":\"#0b57a4\",\"text_colour\":\"#ffffff\"}");
    branding_free(&b);
    dir_rm(&d);
}

TEST(branding_refusals_name_the_key)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"colour\":\"#777777\",\"text-colour\":\"#ffffff\"}",
         "colour and text-colour: #ffffff text on #777777 has a contrast of 4.47:1"},
        {"{\"colour\":\"#ff0000\"}", "colour and text-colour"},
        {"{\"colour\":\"#fff\",\"text-colour\":\"#ffeb3b\"}", "colour and text-colour"},
        {"{\"colour\":\"blue\"}", "colour: \"blue\" is not #rgb or #rrggbb"},
        {"{\"text-colour\":\"#12\"}", "text-colour:"},
        {"{\"logo\":\"big.png\"}", "logo:"},
        {"{\"logo\":\"logo.gif\"}", "logo:"},
        {"{\"logo\":\"missing.png\"}", "logo: cannot read"},
        {"{\"logo\":\"logo.png\"}", "it is an SVG with script"},
        {"{\"colours\":{}}", "unknown key \"colours\""},
        {"{\"name\":7}", "name: must be a string"},
        {"{\"name\":\"a\\nb\"}", "name: must not hold control characters"},
        {"{\"phone\":\"call us\"}", "phone:"},
        {"{\"phone\":\"+4\"}", "phone: needs at least 3 digits"},
        {"{\"privacy-url\":\"http://x.example/privacy\"}", "privacy-url: must be an https:// URL"},
        {"{\"privacy-url\":\"https://x.example/\\\"onmouseover\"}", "privacy-url"},
        {"[]", "not a JSON object"},
        {"{\"name\":", "line 1"},
        {"{\"name\":\"a\",\"name\":\"b\"}", "branding"},
    };
    static const char script_svg[] = "<svg><script>alert(1)</script></svg>";
    struct dir d;
    struct branding b;
    char err[256], name[100];
    unsigned char *big = calloc(1, BRANDING_LOGO_MAX + 1);

    snprintf(d.path, sizeof(d.path), "/tmp/vc-test-branding-XXXXXX");
    if (!CHECK(big && mkdtemp(d.path))) {
        free(big);
        return;
    }
    memcpy(big, png_head, sizeof(png_head));
    put(&d, "big.png", big, BRANDING_LOGO_MAX + 1);
    put(&d, "logo.gif", "GIF89a\x01\x00\x01\x00", 10);
    put(&d, "logo.png", script_svg, sizeof(script_svg) - 1); /* an SVG called .png */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        if (!CHECK_INT(load(&d, cases[i].json, &b, err), -EINVAL) ||
            !CHECK(strncmp(err, "branding: ", 10) == 0 && strstr(err, cases[i].want)))
            fprintf(stderr, "    case %zu: \"%s\"\n", i, err);
        CHECK(b.json == NULL && b.logo == NULL);
    }
    CHECK_INT(load(&d, "{\"logo\":\"big.png\"}", &b, err), -EINVAL);
    CHECK(strstr(err, "over 200 KB") != NULL);
    /* A name of 81 characters (the limit counts characters, not bytes). */
    memset(name, 'w', 81);
    name[81] = '\0';
    char json[160];
    snprintf(json, sizeof(json), "{\"name\":\"%s\"}", name);
    CHECK_INT(load(&d, json, &b, err), -EINVAL);
    CHECK(strstr(err, "name: at most 80 characters") != NULL);
    CHECK_INT(load(&d, "{\"name\":\"\xc5\xb5\xc5\xb5\xc5\xb5 Ysbyty\"}", &b, err), 0);
    branding_free(&b);
    free(big);
    dir_rm(&d);
}
