/*
 * Unit tests for the dns_txt plugin's pure judges (plugins/dns_txt/spf.c,
 * policy.c and txt.c, compiled into this test): no DNS server, no loader.
 *
 * The test vectors are facts transcribed from published test suites, each
 * table naming its source; the expectations are ours where our verdict is
 * a monitoring one (WARNING/CRITICAL) rather than a receiver's result:
 *   - the RFC 7208 test suite (openspf.org release 2014.04,
 *     rfc7208-tests.yml as shipped in pyspf: github.com/sdgathman/pyspf,
 *     test/rfc7208-tests.yml): the records of its scenarios whose result is
 *     permerror because of the published record, and well-formed ones;
 *   - pyspf's doctests of validate_mechanism (spf.py, same repository);
 *   - OpenDMARC's parser tests (github.com/trusteddomainproject/OpenDMARC,
 *     libopendmarc/tests/test_dmarc_parse.c);
 *   - mox's DMARC parser tests (github.com/mjl-/mox, dmarc/parse_test.go);
 *   - the examples of RFC 7489 appendix B.2 and its section 6.4 grammar.
 * Every class of the judgement has cases both ways (must fail, must pass),
 * and random mutations of all vectors must never crash or be half-judged.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/dns_txt/policy.c"
#include "plugins/dns_txt/spf.c"
#include "plugins/dns_txt/txt.c"

/* ---- SPF callbacks that record what the walk asks for ---- */

struct rec_cb {
	char follows[16][256];
	int chains[16];
	int nf;
	int resolves[16];
	int nr;
};

static int cb_follow(void *ud, const char *domain, int chain)
{
	struct rec_cb *r = ud;

	ck_assert_int_lt(r->nf, 16);
	snprintf(r->follows[r->nf], sizeof(r->follows[0]), "%s", domain);
	r->chains[r->nf++] = chain;
	return 0;
}

static int cb_resolve(void *ud, int i)
{
	struct rec_cb *r = ud;

	ck_assert_int_lt(r->nr, 16);
	r->resolves[r->nr++] = i;
	return 0;
}

/* Evaluate rec as the top record of dom.example. */
static int spf_eval_top(struct dt_spf *spf, struct rec_cb *r, const char *rec, size_t len,
                        char *err, size_t errsize)
{
	const struct dt_spf_cb cb = { cb_follow, cb_resolve, r };

	memset(spf, 0, sizeof(*spf));
	memset(r, 0, sizeof(*r));
	err[0] = '\0';
	return dns_txt__spf_eval(spf, "dom.example", rec, len, DT_SPF_CHAIN | DT_SPF_TOP, &cb, err,
	                         errsize);
}

struct spf_vec {
	const char *rec;
	size_t len;
	const char *why; /* NULL: must be valid; else a part of the error */
};
#define BAD(s, why)                                                                                \
	{                                                                                          \
		s, sizeof(s) - 1, why                                                              \
	}
#define OK(s)                                                                                      \
	{                                                                                          \
		s, sizeof(s) - 1, NULL                                                             \
	}

/* Records whose RFC 7208 test-suite result is permerror because of the
 * record itself (scenario names in comments), then our own cases. */
static const struct spf_vec spf_bad[] = {
	/* Initial processing */
	BAD("v=spf1 a:\xEF\xBB\xBF"
	    "garbage.example.net -all",
	    "non-ASCII"), /* non-ascii-policy */
	BAD("v=spf1 \x80"
	    "a:example.net -all",
	    "non-ASCII"), /* non-ascii-mech */
	BAD("v=spf1 a:example.net \x96"
	    "all",
	    "byte 0x96"), /* non-ascii-result */
	BAD("v=spf1 a:ctrl.example.com\x0d"
	    "ptr -all",
	    "control byte 0x0d"), /* control-char-policy */
	BAD("v=spf1 ip4:192.0.2.5\x0a include:spf.protection.outlook.com ~all",
	    "0x0a"), /* badip4 */
	/* Record evaluation */
	BAD("v=spf1 ip4:1.2.3.4 -all moo", "unknown mechanism"), /* detect-errors-anywhere */
	BAD("v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all",
	    "unknown mechanism"), /* modifier-charset-bad1 */
	BAD("v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all",
	    "unknown mechanism"), /* modifier-charset-bad2 */
	BAD("v=spf1 ip4:1.2.3.4 redirect:t2.example.com",
	    "unknown mechanism"),                               /* redirect-is-modifier */
	BAD("v=spf1 a:foo-bar -all", "at least two labels"),    /* invalid-domain */
	BAD("v=spf1 a:mail.example...com -all", "empty label"), /* invalid-domain-empty-label */
	BAD("v=spf1 a:a123456789012345678901234567890123456789012345678901234567890123.example.com "
	    "-all",
	    "longer than 63"), /* invalid-domain-long */
	/* ALL mechanism syntax */
	BAD("v=spf1 -all.", "all takes no argument"),       /* all-dot */
	BAD("v=spf1 -all:foobar", "all takes no argument"), /* all-arg */
	BAD("v=spf1 -all/8", "all takes no argument"),      /* all-cidr */
	/* PTR mechanism syntax */
	BAD("v=spf1 ptr/0 -all", "ptr takes no prefix length"), /* ptr-cidr */
	BAD("v=spf1 ptr:", "empty domain"),                     /* ptr-empty-domain */
	/* A mechanism syntax */
	BAD("v=spf1 a/33 -all", "prefix length"),               /* a-bad-cidr4 */
	BAD("v=spf1 a//129 -all", "prefix length"),             /* a-bad-cidr6 */
	BAD("v=spf1 a/24/64 -all", "prefix length"),            /* a-dual-cidr-ip4-err */
	BAD("v=spf1 a:example.com:8080", "\"com:8080\""),       /* a-bad-domain */
	BAD("v=spf1 a:foo.example.com\0", "0x00"),              /* a-null */
	BAD("v=spf1 a:111.222.33.44", "use ip4:111.222.33.44"), /* a-numeric */
	BAD("v=spf1 a:abc.123", "all digits"),                  /* a-numeric-toplabel */
	BAD("v=spf1 a:example.-com", "hyphen"),                 /* a-bad-toplabel */
	BAD("v=spf1 a:museum", "at least two labels"),          /* a-only-toplabel */
	BAD("v=spf1 a:museum.", "at least two labels"),         /* a-only-toplabel-trailing-dot */
	BAD("v=spf1 a:", "empty domain"),                       /* a-empty-domain */
	/* Include mechanism semantics and syntax */
	BAD("v=spf1 include +all", "include needs"),                 /* include-syntax-error (e6) */
	BAD("v=spf1 include: -all", "empty domain"),                 /* include-empty-domain */
	BAD("v=spf1 include:ip5.example.com/24 -all", "\"com/24\""), /* include-cidr */
	/* MX mechanism syntax */
	BAD("v=spf1 mx:foo.example.com\0", "0x00"),        /* mx-null */
	BAD("v=spf1 mx:abc.123", "all digits"),            /* mx-numeric-top-label */
	BAD("v=spf1 mx/33 -all", "prefix length"),         /* mx-bad-cidr4 */
	BAD("v=spf1 mx//129 -all", "prefix length"),       /* mx-bad-cidr6 */
	BAD("v=spf1 mx:example.com:8080", "\"com:8080\""), /* mx-bad-domain */
	BAD("v=spf1 mx:example.-com", "hyphen"),           /* mx-bad-toplab */
	BAD("v=spf1 mx: -all", "empty domain"),            /* mx-empty-domain */
	/* EXISTS mechanism syntax */
	BAD("v=spf1 exists:", "empty domain"),                  /* exists-empty-domain */
	BAD("v=spf1 exists", "exists needs"),                   /* exists-implicit */
	BAD("v=spf1 exists:mail.example.com/24", "\"com/24\""), /* exists-cidr */
	/* IP4 / IP6 mechanism syntax */
	BAD("v=spf1 ip4:1.2.3.4/33 -all", "prefix length"),  /* cidr4-33 */
	BAD("v=spf1 ip4:1.2.3.4/032 -all", "prefix length"), /* cidr4-032 */
	BAD("v=spf1 ip4", "bad address"),                    /* bare-ip4 */
	BAD("v=spf1 ip4:1.2.3.4//32", "prefix length"),      /* ip4-dual-cidr */
	BAD("v=spf1 ip4:1.2.3.4:8080", "bad address"),       /* bad-ip4-port */
	BAD("v=spf1 ip4:1.2.3", "bad address"),              /* bad-ip4-short */
	BAD("v=spf1 -all ip6", "bad address"),               /* bare-ip6 */
	BAD("v=spf1 ip6:::1.1.1.1/129", "prefix length"),    /* cidr6-129 */
	BAD("v=spf1 ip6:::1.1.1.1//33", "prefix length"),    /* cidr6-bad */
	BAD("v=spf1 ip6::CAFE::BABE", "bad address"),        /* ip6-bad1 */
	/* Semantics of exp and other modifiers */
	BAD("v=spf1 exp= -all", "empty domain"),       /* exp-empty-domain */
	BAD("v=spf1 exp=-all", "at least two labels"), /* exp-syntax-error */
	BAD("v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com", "exp= given twice"),
	BAD("v=spf1 redirect=e12.example.com -all redirect=e12.example.com",
	    "redirect= given twice"),                            /* redirect-twice */
	BAD("v=spf1 redirect=-all ?all", "at least two labels"), /* redirect-syntax-error */
	BAD("v=spf1 ?all redirect=", "empty domain"),            /* redirect-empty-domain */
	BAD("v=spf1 1up=foo", "must start with a letter"),       /* invalid-modifier */
	BAD("v=spf1 =all", "empty name"),                        /* empty-modifier-name */
	BAD("v=spf1 -all foo=%abc", "must start a macro"),       /* unknown-modifier-syntax */
	/* Macro expansion rules */
	BAD("v=spf1 -all exp=%{r}.example.com", "explanation text"), /* exp-only-macro-char */
	BAD("v=spf1 -exists:%(ir).sbl.example.com ?all",
	    "must start a macro"), /* invalid-macro-char */
	BAD("v=spf1 exists:foo%(ir).sbl.example.com ?all",
	    "must start a macro"), /* invalid-embedded-macro-char */
	BAD("v=spf1 exists:foo%.sbl.example.com ?all",
	    "must start a macro"), /* invalid-trailing-macro-char */
	BAD("v=spf1 a:%{a}.example.com -all", "unknown macro letter"), /* undef-macro */
	/* pyspf doctests of validate_mechanism */
	BAD("v=spf1 ip4:1.2.3.4/247", "prefix length"),
	BAD("v=spf1 ip4:1.2.3.444/24", "bad address"),
	BAD("v=spf1 ip4:1.2.03.4/24", "bad address"),
	BAD("v=spf1 -all:3030", "all takes no argument"),
	BAD("v=spf1 a:mail.example.com,", "not commas"),
	/* ours: the mistakes the messages must name */
	BAD("v=spf1 a:192.0.2.1 -all", "use ip4:192.0.2.1)"),
	BAD("v=spf1 a:192.0.2.0/24 -all", "use ip4:192.0.2.0/24)"),
	BAD("v=spf1 mx:2001:db8::1 -all", "use ip6:2001:db8::1)"),
	BAD("v=spf1 include:192.0.2.1 -all", "use ip4:192.0.2.1)"),
	BAD("v=spf1 include:%{c}.example.com -all", "explanation text"),
	BAD("v=spf1 exists:%{t}.example.com -all", "explanation text"),
	BAD("v=spf1 foo=%{r} -all", "explanation text"),
	BAD("v=spf1 exists:%{d0}.example.com -all", "1..999"),
	BAD("v=spf1 exists:%{d2x}.example.com -all", "bad macro"),
	BAD("v=spf1 exists:%{d -all", "bad macro"),
	BAD("v=spf1 include:%{d}.123 -all", "all digits"),
	BAD("v=spf1 +redirect=a.example", "no qualifier"),
	BAD("v=spf1 - -all", "qualifier without a mechanism"),
	BAD("v=spf1 -all\tip4:192.0.2.1", "control byte 0x09"),
	BAD("v=spf1 ip4:192.0.2.1, -all", "bad address"),
	BAD("v=spf1 mod\xc3\xa9=x", "non-ASCII"),
	BAD("v=spf1 a:-foo.example.com/24//200", "prefix length"),
	BAD("v=spf1 a:foo.example.com/24//64/2", "last label \"com/24//64\""),
	BAD("v=spf1 ip6:2001:db8::/64 a:x.example.com.. -all", "empty last label"),
	BAD("v=spf1x -all", "not an SPF record"),
};

/* Records the RFC 7208 test suite uses in scenarios that are not a
 * permerror of the record: they must stay valid. */
static const struct spf_vec spf_good[] = {
	OK("v=spf1 a  -all"),                                      /* two-spaces */
	OK("v=spf1 a -all "),                                      /* trailing-space */
	OK("v=spf1 ip4:192.0.2.5 -all"),                           /* null-text, strings joined */
	OK("v=spf1"),                                              /* empty */
	OK("v=SpF1 ~all"),                                         /* case-insensitive */
	OK("V=sPf1 +all"),                                         /* multitxt2 */
	OK("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all"), /* modifier-charset-good */
	OK("v=spf1 redirect=t5.example.com ~all"),                 /* redirect-after-mechanisms1 */
	OK("v=spf1 ip4:1.2.3.4 redirect=t2.example.com"),          /* redirect-after-mechanisms2 */
	OK("v=spf1 ip4:1.2.3.4"),                                  /* default-result */
	OK("v=spf1 a:%{H}.bar -all"),                  /* invalid-domain-long-via-macro */
	OK("v=spf1 ?all"),                             /* all-neutral */
	OK("v=spf1 all -all"),                         /* all-double: valid, +all decides */
	OK("v=spf1 ptr:example.com -all"),             /* ptr-match-target */
	OK("v=spf1 ptr -all"),                         /* ptr-match-implicit */
	OK("v=spf1 ptr:example.Com -all"),             /* ptr-case-change */
	OK("v=spf1 ptr"),                              /* ptr-cname-loop */
	OK("v=spf1 a/0 -all"),                         /* a-cidr4-0 */
	OK("v=spf1 a//0 -all"),                        /* a-cidr6-0-ip4 */
	OK("v=spf1 a -all"),                           /* a-ip6-dualstack */
	OK("v=spf1 a//33 -all"),                       /* a-cidr6 */
	OK("v=spf1 a/24//64 -all"),                    /* a-dual-cidr-ip4-match */
	OK("v=spf1 a/24 -all"),                        /* a-dual-cidr-ip6-default */
	OK("v=spf1 a//64 -all"),                       /* a-dual-cidr-ip4-default */
	OK("v=spf1 a:foo.example.com/24"),             /* a-multi-ip1 */
	OK("v=spf1 a:foo:bar/baz.example.com"),        /* a-colon-domain */
	OK("v=spf1 a:foo.example.xn--zckzah -all"),    /* a-dash-in-toplabel */
	OK("v=spf1 include:ip5.example.com ~all"),     /* include-fail */
	OK("v=spf1 include:ip6.example.com all"),      /* include-softfail */
	OK("v=spf1 include:ip7.example.com -all"),     /* include-neutral */
	OK("v=spf1 include:erehwon.example.com -all"), /* include-none (DNS, not syntax) */
	OK("v=spf1 mx"),                               /* mx-empty */
	OK("v=spf1 mx/0 -all"),                        /* mx-nxdomain */
	OK("v=spf1 mx//0 -all"),                       /* mx-cidr6-0-ip4 */
	OK("v=spf1 mx//33 -all"),                      /* mx-cidr6 */
	OK("v=spf1 mx:foo.example.com/24"),            /* mx-multi-ip1 */
	OK("v=spf1 mx:foo:bar/baz.example.com"),       /* mx-colon-domain */
	OK("v=spf1 exists:mail.example.com"),          /* exists-ip4 */
	OK("v=spf1 exists:mail6.example.com -all"),    /* exists-ip6 */
	OK("v=spf1 ip4:1.1.1.1/0 -all"),               /* cidr4-0 */
	OK("v=spf1 ip4:1.2.3.4/32 -all"),              /* cidr4-32 */
	OK("v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4"),  /* ip4-mapped-ip6 */
	OK("v=spf1 ip6:::1.1.1.1/0"),                  /* cidr6-0 */
	OK("v=spf1 ip6:Cafe:Babe:8000::/33"),          /* cidr6-33 */
	OK("v=spf1 exp=exp1.example.com redirect=e2.example.com"), /* redirect-cancels-exp */
	OK("v=spf1 -all exp=exp2.example.com"),                    /* redirect-cancels-prior-exp */
	OK("v=spf1 include:e3.example.com -all exp=exp3.example.com"), /* include-ignores-exp */
	OK("v=spf1 -all exp=exp4.example.com"),                        /* dorky-sentinel */
	OK("v=spf1 redirect=erehwon.example.com"),                     /* redirect-none (DNS) */
	OK("v=spf1 default=pass"), /* default-modifier-obsolete */
	OK("v=spf1 default=+"),    /* default-modifier-obsolete2 */
	OK("v=spf1 a:erehwon.example.com a:foobar.com exp=nxdomain.com -all"), /* exp-void */
	OK("v=spf1 redirect=testimplicit.example.com"), /* redirect-implicit */
	OK("v=spf1 exp=mail.example.com -all"),         /* exp-no-txt */
	OK("v=spf1 redirect=%{d}.d.spf.example.com."),  /* trailing-dot-domain */
	OK("v=spf1 include:o.spf.example.com. ~all"),   /* trailing-dot-domain */
	OK("v=spf1 exp=msg.example.com. -all"),         /* trailing-dot-exp */
	OK("v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all"), /* macro-mania-in-domain
	                                                                     */
	OK("v=spf1 -all exp=%{ir}.example.com"),                            /* exp-txt-macro-char */
	OK("v=spf1 -all exp=foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com"),
	OK("v=spf1 -all exp=msg8.%{D2}"),                      /* upper-macro */
	OK("v=spf1 a:%{H} -all"),                              /* hello-macro */
	OK("v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all"), /* require-valid-helo */
	OK("v=spf1 -a:%{h} +all"),                             /* require-valid-helo */
	OK("v=spf1 exists:%{i}.%{l2r-}.user.%{d2}"),           /* macro-reverse-split-on-dash */
	OK("v=spf1 exists:%{l2r+-}.user.%{d2}"),               /* macro-multiple-delimiters */
	OK("v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com"), /* p-macro-multiple
	                                                                          */
	OK("v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all"), /* mech-at-limit (syntax) */
	OK("v=spf1 mx redirect=_spf.example.com"),               /* bytes-bug */
	OK("v=spf1 ptr:fe.example.org ptr:sgp.example.com exp=_expspf.example.org -all"),
	OK("v=spf1 ip4:192.0.2.225 ?include:webmail.pair.com ?include:relay.pair.com -all"),
	OK("v=spf1 ip4:66.39.3.0/24 ip4:209.68.6.94/32"),         /* cname-aliasing */
	OK("v=spf1 ip4:209.68.5.9/32 ip4:209.68.5.15/32 a -all"), /* cname-aliasing */
	/* pyspf doctests of validate_mechanism */
	OK("v=spf1 A//64"),
	OK("v=spf1 A/24//64"),
	OK("v=spf1 ?mx:%{d}/27"),
	OK("v=spf1 -mx:%%%_/.Clara.de/27"),
	OK("v=spf1 ~exists:%{i}.%{s1}.100/86400.rate.%{d}"),
	OK("v=spf1 a:mail.example.com."),
	/* ours: not stricter than the RFC */
	OK("v=spf1 Include:_spf.example.com MX:mail.example.com/24//64 -ALL"),
	OK("v=spf1 Redirect=_spf.example.com"),
	OK("v=spf1 foo=bar -all"),
	OK("v=spf1 exists:%{i}._spf.%{d}"),
	OK("v=spf1 a:1.2.3.4.example.com -all"),
	OK("v=spf1 a:mail.123-4 -all"),
	OK("v=spf1 a:example.com/32//128 -all"),
	OK("v=spf1 a:%{d}//0 -all"),
	OK("v=spf1 empty= -all"),
};

START_TEST(t_spf_bad)
{
	const struct spf_vec *v = &spf_bad[_i];
	struct dt_spf spf;
	struct rec_cb r;
	char err[512];
	int rc = spf_eval_top(&spf, &r, v->rec, v->len, err, sizeof(err));

	ck_assert_msg(rc == -1, "accepted: \"%s\"", v->rec);
	ck_assert_msg(strstr(err, v->why), "\"%s\": error \"%s\" lacks \"%s\"", v->rec, err,
	              v->why);
	/* a broken record asks for nothing */
	ck_assert_int_eq(r.nf, 0);
	ck_assert_int_eq(r.nr, 0);
}
END_TEST

START_TEST(t_spf_good)
{
	const struct spf_vec *v = &spf_good[_i];
	struct dt_spf spf;
	struct rec_cb r;
	char err[512];
	int rc = spf_eval_top(&spf, &r, v->rec, v->len, err, sizeof(err));

	ck_assert_msg(rc == 0, "refused: \"%s\": %s", v->rec, err);
}
END_TEST

static struct dt_txt txt(const char *s)
{
	struct dt_txt t = { (char *)s, strlen(s) };

	return t;
}

START_TEST(t_spf_select)
{
	/* Selecting records (RFC 7208 4.5): "v=spf1" then a space or the end,
	 * case-insensitive; nospace1 joins "v=spf1" "mx" into "v=spf1mx". */
	const char *yes[] = { "v=spf1", "v=spf1 -all", "V=sPf1 +all", "v=SpF1 ~all" };
	const char *no[] = {
		"v=spf10", "v=spf1mx",  "v=spf",        "v=spf3 !a:yahoo.com -all",
		"",        "spf1 -all", " v=spf1 -all", "v=spfl am not an SPF record"
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct dt_txt t = txt(yes[i]);

		ck_assert_msg(dns_txt__is_spf(&t), "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct dt_txt t = txt(no[i]);

		ck_assert_msg(!dns_txt__is_spf(&t), "%s", no[i]);
	}
}
END_TEST

/* Evaluate rec as the top record and judge it (no target answered). */
static void spf_walk(const char *rec, struct dt_spf *spf, struct rec_cb *r, struct dt_verdict *v)
{
	char err[512];

	ck_assert_msg(spf_eval_top(spf, r, rec, strlen(rec), err, sizeof(err)) == 0, "%s: %s", rec,
	              err);
	dns_txt__verdict_init(v);
}

#define JUDGE_EXPECT(v, st, text)                                                                  \
	ck_assert_msg((v)->state == (st) && (strstr((v)->out, text) || strstr((v)->lng, text)),    \
	              "state %d \"%s\" (want %d \"%s\")\n%s", (v)->state, (v)->out, st, text,      \
	              (v)->lng)

/* Answer every query of every target the same way. */
static void answer_all(struct dt_spf *spf, int st, int count, struct dt_verdict *v)
{
	for (int i = 0; i < spf->ntgt; i++)
		for (int q = 1; q <= DT_Q_MX; q <<= 1)
			if (spf->tgt[i].want & q)
				dns_txt__spf_answer(spf, i, q, st, count, 0, v);
}

START_TEST(t_spf_first_all)
{
	struct dt_spf spf;
	struct rec_cb r;
	struct dt_verdict v;

	/* all-double: receivers stop at the first all: pass for everyone */
	spf_walk("v=spf1 all -all", &spf, &r, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "+all: anyone may send; 1 later term never reached");
	spf_walk("v=spf1 ?all -all", &spf, &r, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "?all: neutral");
	/* a good all first, senders listed after it are never reached */
	spf_walk("v=spf1 -all ip4:192.0.2.1 include:x.example", &spf, &r, &v);
	ck_assert_int_eq(spf.lookups, 0);
	ck_assert_int_eq(r.nf, 0);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "2 later terms never reached (\"ip4:192.0.2.1\"...)");
	/* modifiers after the all are not mechanisms: nothing unreachable */
	spf_walk("v=spf1 ip4:192.0.2.1 -all exp=why.example.com", &spf, &r, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "SPF valid, 0 DNS lookups, ends in -all");
	/* redirect-after-mechanisms1: redirect= is not used when there is an all */
	spf_walk("v=spf1 redirect=t5.example.com ~all", &spf, &r, &v);
	ck_assert_int_eq(r.nf, 0);
	ck_assert_int_eq(spf.lookups, 0);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "redirect= is never used");
	/* redirect-after-mechanisms2: no all, redirect decides */
	spf_walk("v=spf1 ip4:1.2.3.4 redirect=t2.example.com", &spf, &r, &v);
	ck_assert_int_eq(r.nf, 1);
	ck_assert_str_eq(r.follows[0], "t2.example.com");
	ck_assert_int_eq(r.chains[0], 1);
	ck_assert_int_eq(spf.final_all, 0);
	/* default-result: no all, no redirect */
	spf_walk("v=spf1 ip4:1.2.3.4", &spf, &r, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "no all");
	spf_walk("v=spf1 mx -all", &spf, &r, &v);
	answer_all(&spf, DT_ST_OK, 1, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "SPF valid, 1 DNS lookup, ends in -all");
}
END_TEST

START_TEST(t_spf_limits)
{
	struct dt_spf spf;
	struct rec_cb r;
	struct dt_verdict v;
	char big[4096] = "v=spf1";

	/* mech-at-limit / mech-over-limit of the RFC 7208 suite */
	spf_walk("v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all", &spf, &r, &v);
	ck_assert_int_eq(spf.lookups, 10);
	ck_assert_int_eq(r.nr, 9); /* a and mx resolved, ptr depends on the sender */
	answer_all(&spf, DT_ST_OK, 1, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "10 DNS lookups");
	spf_walk("v=spf1 a mx a mx a mx a mx a ptr a ip4:1.2.3.4 -all", &spf, &r, &v);
	ck_assert_int_eq(spf.lookups, 11);
	ck_assert_int_eq(r.nr, 9); /* nothing past the limit */
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "needs 11 DNS lookups, the limit is 10");
	/* includes are followed, in order, until the limit */
	spf_walk("v=spf1 include:a.example include:b.example. ?include:c.example -all", &spf, &r,
	         &v);
	ck_assert_int_eq(r.nf, 3);
	ck_assert_str_eq(r.follows[1], "b.example");
	ck_assert_int_eq(r.chains[2], 0);
	/* targets with macros are counted, not followed */
	spf_walk("v=spf1 include:%{d}.example exists:%{i}.x.example a:%{h} -all", &spf, &r, &v);
	ck_assert_int_eq(spf.lookups, 3);
	ck_assert_int_eq(r.nf + r.nr, 0);
	ck_assert_int_eq(spf.not_followed, 3);
	/* not too strict: 100 ip4 terms are valid (size is judged on the answer) */
	for (int i = 0; i < 100; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), " ip4:192.0.2.%d", i);
	strcat(big, " -all");
	spf_walk(big, &spf, &r, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "0 DNS lookups, ends in -all");
}
END_TEST

START_TEST(t_spf_targets)
{
	struct dt_spf spf;
	struct rec_cb r;
	struct dt_verdict v;

	spf_walk("v=spf1 a mx:mail.example.com/24 exists:x.example.com -all", &spf, &r, &v);
	ck_assert_int_eq(spf.ntgt, 3);
	ck_assert_str_eq(spf.tgt[0].domain, "dom.example"); /* a: the record's own domain */
	ck_assert_int_eq(spf.tgt[0].want, DT_Q_A | DT_Q_AAAA);
	ck_assert_str_eq(spf.tgt[1].domain, "mail.example.com");
	ck_assert_int_eq(spf.tgt[1].want, DT_Q_MX);
	ck_assert_int_eq(spf.tgt[2].want, DT_Q_A);
	ck_assert_int_eq(spf.tgt[0].own, 1);
	/* void-over-limit (RFC 7208 suite, e11): three a: names that do not exist */
	spf_walk("v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all", &spf, &r,
	         &v);
	answer_all(&spf, DT_ST_NXDOMAIN, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "3 void lookups for IPv4 senders, the limit is 2");
	ck_assert_msg(
	    strstr(v.lng,
	           "term a:err.example.com matches no sender: err.example.com has no A or AAAA"),
	    "%s", v.lng);
	/* void-at-limit (e12): two is within the limit; ?all decides */
	spf_walk("v=spf1 a:err.example.com a:err1.example.com ?all", &spf, &r, &v);
	answer_all(&spf, DT_ST_NXDOMAIN, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "?all");
	ck_assert_msg(strstr(v.lng, "void lookups for IPv4 senders (limit 2)"), "%s", v.lng);
	/* IPv4-only names: void for IPv6 senders only, and three is over */
	spf_walk("v=spf1 a a:m1.example.com a:m2.example.com -all", &spf, &r, &v);
	for (int i = 0; i < spf.ntgt; i++) {
		dns_txt__spf_answer(&spf, i, DT_Q_A, DT_ST_OK, 1, 0, &v);
		dns_txt__spf_answer(&spf, i, DT_Q_AAAA, DT_ST_NODATA, 0, 0, &v);
	}
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "3 void lookups for IPv6 senders");
	ck_assert_msg(!strstr(v.lng, "IPv4 senders"), "%s", v.lng);
	/* mx-limit (e4): eleven MX records */
	spf_walk("v=spf1 mx -all", &spf, &r, &v);
	dns_txt__spf_answer(&spf, 0, DT_Q_MX, DT_ST_OK, 11, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "dom.example has 11 MX records, more than 10");
	spf_walk("v=spf1 mx -all", &spf, &r, &v);
	dns_txt__spf_answer(&spf, 0, DT_Q_MX, DT_ST_OK, 10, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "ends in -all");
	/* a null MX matches nobody */
	spf_walk("v=spf1 mx ip4:192.0.2.1 -all", &spf, &r, &v);
	dns_txt__spf_answer(&spf, 0, DT_Q_MX, DT_ST_OK, 1, 1, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "null MX");
	/* SERVFAIL: receivers get temperror */
	spf_walk("v=spf1 a:broken.example.com -all", &spf, &r, &v);
	dns_txt__spf_answer(&spf, 0, DT_Q_A, DT_ST_SERVFAIL, 0, 0, &v);
	dns_txt__spf_answer(&spf, 0, DT_Q_AAAA, DT_ST_SERVFAIL, 0, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_WARNING, "temperror");
	/* a timeout says nothing: noted, not judged */
	spf_walk("v=spf1 a:slow.example.com -all", &spf, &r, &v);
	answer_all(&spf, DT_ST_TIMEOUT, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "not judged");
	/* unanswered at the deadline */
	spf_walk("v=spf1 a -all", &spf, &r, &v);
	dns_txt__spf_answer(&spf, 0, DT_Q_A, DT_ST_OK, 1, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "1 a/mx/exists target(s) not answered in time");
	/* answers for what was not asked are ignored */
	dns_txt__spf_answer(&spf, 0, DT_Q_MX, DT_ST_NXDOMAIN, 0, 0, &v);
	dns_txt__spf_answer(&spf, 7, DT_Q_A, DT_ST_NXDOMAIN, 0, 0, &v);
	dns_txt__spf_answer(&spf, -1, DT_Q_A, DT_ST_NXDOMAIN, 0, 0, &v);
	ck_assert_int_eq(spf.tgt[0].void4 + spf.tgt[0].void6, 0);
	/* exists with a literal name: void counts, but it is how exists works */
	spf_walk("v=spf1 exists:a.example.com exists:b.example.com exists:c.example.com -all", &spf,
	         &r, &v);
	answer_all(&spf, DT_ST_NXDOMAIN, 0, &v);
	dns_txt__spf_judge(&spf, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "3 void lookups for IPv6 senders");
	ck_assert_msg(!strstr(v.lng, "matches no sender"), "%s", v.lng);
}
END_TEST

START_TEST(t_answer_size)
{
	struct dt_txt recs[2];
	struct dt_txtset set = { recs, 1 };
	char big[2048] = "v=spf1";

	recs[0] = txt("v=spf1 -all");
	/* 12 header + 11+2+4 question + 2+10 RR + 11 data + 1 length byte */
	ck_assert_uint_eq(dns_txt__answer_size("example.com", &set), 12 + 11 + 2 + 4 + 12 + 11 + 1);
	for (int i = 0; i < 100; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), " ip4:192.0.2.%d", i);
	recs[1] = txt(big);
	set.n = 2;
	ck_assert_uint_gt(dns_txt__answer_size("example.com", &set), 512);
	recs[1] = txt("");
	ck_assert_uint_eq(dns_txt__answer_size("example.com", &set),
	                  12 + 11 + 2 + 4 + 12 + 11 + 1 + 12 + 0 + 1);
}
END_TEST

/* ---- DMARC ---- */

struct dm_vec {
	const char *rec;
	int state;
	const char *text; /* in the output or the long output */
};

/* The state expected with dmarc_none = warning (the default). */
static const struct dm_vec dm_vecs[] = {
	/* OpenDMARC libopendmarc/tests/test_dmarc_parse.c, numbered as there */
	{ "v=DMARC1; p=none; rf=afrf; rua=mailto:dmarc-a@abuse.net; ruf=mailto:dmarc-f@abuse.net",
	  MAMORI_WARNING, "p=none" },                                   /* 1 */
	{ "v=DMARC1; p=none;", MAMORI_WARNING, "p=none" },              /* 2 */
	{ "v=DMARC1; p=reject;", MAMORI_OK, "DMARC p=reject" },         /* 3 */
	{ "v=DMARC1; p=quarantine;", MAMORI_OK, "DMARC p=quarantine" }, /* 4 */
	/* 5: OpenDMARC takes any prefix of a policy; RFC 7489 does not */
	{ "v=DMARC1; p=n;", MAMORI_CRITICAL, "invalid p=\"n\"" },
	{ "", MAMORI_CRITICAL, "no DMARC record" },                             /* 6 */
	{ "V=BOB", MAMORI_CRITICAL, "no DMARC record" },                        /* 7 */
	{ "v=DMARC1; p=bob;", MAMORI_CRITICAL, "invalid p=\"bob\"" },           /* 8 */
	{ "v=DMARC1; p=none; sp=bob;", MAMORI_CRITICAL, "invalid sp=\"bob\"" }, /* 9 */
	{ "v=DMARC1; p=none; adkim=bob;", MAMORI_WARNING,
	  "adkim=\"bob\": must be r or s" },                               /* 10 */
	{ "v=DMARC1; p=none; aspf=bob;", MAMORI_WARNING, "aspf=\"bob\"" }, /* 11 */
	{ "v=DMARC1; p=none; rf=bob;", MAMORI_WARNING, "rf=\"bob\"" },     /* 12 */
	{ "v=DMARC1; p=none; ri=bob;", MAMORI_WARNING, "ri=\"bob\"" },     /* 13 */
	{ "v=DMARC1; p=none; pct=500;", MAMORI_WARNING, "pct=\"500\"" },   /* 14 */
	{ "v=DMARC1; pct=100;", MAMORI_CRITICAL, "no p= policy" },         /* 15 */
	{ "v=DMARC1; p=none; rua=ftp://abuse.com", MAMORI_WARNING, "only have to support mailto" },
	/* 17, 18: OpenDMARC does not look inside the URI; a mailto: needs an address */
	{ "v=DMARC1; p=none; ruf=mailto://abuse.com", MAMORI_WARNING,
	  "ruf=\"mailto://abuse.com\"" },
	{ "v=DMARC1; p=none; ruf=mailto://abuse.com; foo=bar; buzz=happy;", MAMORI_WARNING,
	  "unknown DMARC tag buzz= ignored" },
	{ "v=DMARC1; p=none; rf=000000000000000000000000000000000", MAMORI_WARNING,
	  "only afrf is a registered format" }, /* 19 */

	/* mox dmarc/parse_test.go, "bad" records: receivers refuse them */
	{ "v=", MAMORI_CRITICAL, "no DMARC record" },
	{ "v=DMARC12", MAMORI_CRITICAL, "its version is not DMARC1" },
	{ "v=DMARC1", MAMORI_CRITICAL, "no p= policy" },
	{ "v=dmarc1; p=none", MAMORI_CRITICAL, "in capitals" },
	{ "v=DMARC1 p=none", MAMORI_CRITICAL, "a ';' must follow v=DMARC1" },
	{ "v=DMARC1;", MAMORI_CRITICAL, "no p= policy: receivers apply no DMARC" },
	{ "v=DMARC1; sp=invalid", MAMORI_CRITICAL, "no p= policy" },
	{ "v=DMARC1; sp=reject; p=reject", MAMORI_WARNING, "must come right after v=DMARC1" },
	{ "v=DMARC1; p=none; p=none", MAMORI_WARNING, "p= given twice" },
	{ "v=DMARC1; p=none; p=reject", MAMORI_CRITICAL, "p= twice with different values" },
	{ "v=DMARC1;;", MAMORI_CRITICAL, "no p= policy" },
	/* mox's bad tag values, here after a valid p= so that the tag itself
	 * is what is judged (mox's records have no p= at all) */
	{ "v=DMARC1; p=reject; adkim=x", MAMORI_WARNING, "adkim=\"x\"" },
	{ "v=DMARC1; p=reject; aspf=123", MAMORI_WARNING, "aspf=\"123\"" },
	{ "v=DMARC1; p=reject; ri=", MAMORI_WARNING, "ri=\"\": empty value" },
	{ "v=DMARC1; p=reject; ri=-1", MAMORI_WARNING, "ri=\"-1\": not a number" },
	{ "v=DMARC1; p=reject; ri=99999999999999999999999999999999999999", MAMORI_WARNING,
	  "number too large" },
	{ "v=DMARC1; p=reject; ri=123bad", MAMORI_WARNING, "ri=\"123bad\"" },
	{ "v=DMARC1; p=reject; ri=bad", MAMORI_WARNING, "ri=\"bad\"" },
	{ "v=DMARC1; p=reject; fo=", MAMORI_WARNING, "fo=\"\"" },
	{ "v=DMARC1; p=reject; fo=01", MAMORI_WARNING, "fo=\"01\": each option is 0, 1, d or s" },
	{ "v=DMARC1; p=reject; fo=bad", MAMORI_WARNING, "fo=\"bad\"" },
	{ "v=DMARC1; p=reject; rf=bad-trailing-dash-", MAMORI_WARNING, "not a format name" },
	{ "v=DMARC1; p=reject; rf=", MAMORI_WARNING, "rf=\"\"" },
	{ "v=DMARC1; p=reject; rf=bad.non-alphadigitdash", MAMORI_WARNING, "not a format name" },
	{ "v=DMARC1; p=badvalue", MAMORI_CRITICAL, "invalid p=\"badvalue\"" },
	{ "v=DMARC1; p=reject; sp=bad", MAMORI_CRITICAL, "invalid sp=\"bad\"" },
	{ "v=DMARC1; p=reject; pct=110", MAMORI_WARNING, "pct=\"110\": must be 0..100" },
	{ "v=DMARC1; p=reject; pct=bogus", MAMORI_WARNING, "pct=\"bogus\"" },
	{ "v=DMARC1; p=reject; pct=", MAMORI_WARNING, "pct=\"\"" },
	{ "v=DMARC1; p=reject; rua=", MAMORI_WARNING, "rua=\"\"" },
	{ "v=DMARC1; p=reject; rua=bogus", MAMORI_WARNING, "not a URI (missing mailto:?)" },
	{ "v=DMARC1; p=reject; rua=mailto:dmarc-feedback@example.com!", MAMORI_WARNING,
	  "bad size limit" },
	{ "v=DMARC1; p=reject; rua=mailto:dmarc-feedback@example.com!"
	  "99999999999999999999999999999999999999999999999",
	  MAMORI_WARNING, "bad size limit" },
	{ "v=DMARC1; p=reject; rua=mailto:dmarc-feedback@example.com!10p", MAMORI_WARNING,
	  "bad size limit" },
	/* mox, valid records (RFC 7489 6.6.3: no p= but a valid rua= reads as
	 * p=none for receivers; we still call the record broken) */
	{ "v=DMARC1; rua=mailto:mjl@mox.example", MAMORI_CRITICAL,
	  "no p= policy: receivers act as if p=none" },
	{ "v=DMARC1; p=reject; sp=invalid; rua=mailto:mjl@mox.example", MAMORI_CRITICAL,
	  "invalid sp=\"invalid\", which counts as an invalid policy: receivers act as if p=none" },
	{ "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com;ruf=mailto:auth-reports@example."
	  "com",
	  MAMORI_WARNING, "DMARC p=none: monitoring only" },
	{ "V = DMARC1 ; P = reject ;\tSP=none; unknown \t=\t ignored-future-value \t ; adkim=s; "
	  "aspf=s; rua=mailto:dmarc-feedback@example.com  ,\t\tmailto:tld-test@thirdparty.example."
	  "net!10m; RUF=mailto:auth-reports@example.com  ,\t\tmailto:tld-test@thirdparty.example."
	  "net!0G; RI = 123; FO = 0:1:d:s ; RF= afrf : other; Pct = 0",
	  /* mox accepts any keyword in rf=; only afrf is registered */
	  MAMORI_WARNING, "RF=\"afrf : other\": only afrf is a registered format" },
	{ "V = DMARC1 ; P = reject ;\tSP=none; unknown \t=\t ignored-future-value \t ; adkim=s; "
	  "aspf=s; rua=mailto:dmarc-feedback@example.com  ,\t\tmailto:tld-test@thirdparty.example."
	  "net!10m; RUF=mailto:auth-reports@example.com  ,\t\tmailto:tld-test@thirdparty.example."
	  "net!0G; RI = 123; FO = 0:1:d:s ; RF= afrf ; Pct = 0",
	  MAMORI_OK, "DMARC p=reject sp=none" },

	/* RFC 7489 appendix B.2.1, B.2.3, B.2.4 */
	{ "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com", MAMORI_WARNING, "p=none" },
	{ "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; "
	  "ruf=mailto:auth-reports@thirdparty.example.net",
	  MAMORI_WARNING, "p=none" },
	{ "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@"
	  "thirdparty.example.net!10m; pct=25",
	  MAMORI_OK, "applies to 25% of failing mail" },

	/* issue 16 and RFC 7489 6.4: whitespace and case */
	{ "v = DMARC1; p = reject", MAMORI_OK, "DMARC p=reject" },
	{ "V=DMARC1; P=Reject; ADKIM=S; ASPF=r", MAMORI_OK, "DMARC p=Reject" },
	{ "v=DMARC1\t;\tp=quarantine\t;", MAMORI_OK, "DMARC p=quarantine" },
	{ " v=DMARC1; p=reject", MAMORI_CRITICAL, "starts with a space" },
	{ "v=DMARC1; p = re ject", MAMORI_CRITICAL, "invalid p=\"re ject\"" },
	{ "v=DMARC1; p=reject; rua=mailto:a@example.com, mailto:b@example.org!20k", MAMORI_OK,
	  "p=reject" },
	{ "v=DMARC1; p=reject; rua=mailto:@example.com", MAMORI_WARNING, "without a mail address" },
	{ "v=DMARC1; p=reject; rua=mailto:a%2@example.com", MAMORI_WARNING, "bad %-escape" },
	{ "v=DMARC1; p=reject; rua=mailto:a b@example.com", MAMORI_WARNING,
	  "not allowed in a URI" },
	{ "v=DMARC1; p=reject; rua=https://dmarc.example.com/report", MAMORI_OK,
	  "only have to support mailto" },
	{ "v=DMARC1; p=reject; garbage", MAMORI_WARNING, "\"garbage\" is not a tag=value" },
	{ "v=DMARC1; p=reject;; rua=mailto:a@example.com", MAMORI_WARNING, "empty tag" },
	{ "v=DMARC1; p=reject; 1x=y", MAMORI_WARNING, "is not a tag=value" },
	{ "v=DMARC1; p=reject; a b=y", MAMORI_WARNING, "bad tag name" },
	{ "v=DMARC1; p=reject; rua=mailto:a@example.com; rua=mailto:b@example.com", MAMORI_WARNING,
	  "rua= given twice" },
	{ "v=DMARC1; p=reject; pct=050", MAMORI_OK, "applies to 050%" },
	{ "v=DMARC1; p=reject; pct=0", MAMORI_OK, "applies to 0%" },
	{ "v=DMARC1; p=reject; ri=4294967295", MAMORI_OK, "p=reject" },
	{ "v=DMARC1; p=reject; ri=4294967296", MAMORI_WARNING, "number too large" },
	{ "v=DMARC1; p=reject; fo=1 : d", MAMORI_OK, "p=reject" },
	/* DMARCbis draft tags */
	{ "v=DMARC1; p=reject; np=reject; psd=n; t=n", MAMORI_OK, "p=reject" },
	{ "v=DMARC1; p=reject; t=y", MAMORI_OK, "testing mode" },
	{ "v=DMARC1; p=reject; np=bogus", MAMORI_WARNING, "np=\"bogus\"" },
	{ "v=DMARC1; p=reject; psd=x", MAMORI_WARNING, "psd=\"x\": must be y, n or u" },
	{ "v=DMARC1; p=reject; t=maybe", MAMORI_WARNING, "t=\"maybe\"" },
	/* bytes that are no text */
	{ "v=DMARC1;;;==p\xff", MAMORI_CRITICAL, "no p= policy" },
	{ "v=DMARC1; p=reject; fo=\x01", MAMORI_WARNING, "fo=\"\\x01\"" },
};

static void dm_judge(const char *rec, size_t len, int none_state, struct dt_verdict *v)
{
	struct dt_txt t = { (char *)rec, len };
	struct dt_txtset set = { &t, 1 };

	dns_txt__verdict_init(v);
	dns_txt__dmarc_judge(&set, none_state, v);
}

START_TEST(t_dmarc_vectors)
{
	const struct dm_vec *d = &dm_vecs[_i];
	struct dt_verdict v;

	dm_judge(d->rec, strlen(d->rec), MAMORI_WARNING, &v);
	ck_assert_msg(v.state == d->state && (strstr(v.out, d->text) || strstr(v.lng, d->text)),
	              "\"%s\": state %d \"%s\" (want %d, \"%s\")\n%s", d->rec, v.state, v.out,
	              d->state, d->text, v.lng);
	ck_assert(v.has_msg);
}
END_TEST

START_TEST(t_dmarc_set)
{
	struct dt_txt t[3] = { txt("v=DMARC1; p=reject"), txt("v=DMARC1; p=none"),
		               txt("other text") };
	struct dt_txtset set = { t, 2 };
	struct dt_verdict v;

	/* RFC 7489 6.6.3: several records, none is used */
	dns_txt__verdict_init(&v);
	dns_txt__dmarc_judge(&set, MAMORI_WARNING, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "2 DMARC records");
	t[1] = t[2];
	dns_txt__verdict_init(&v);
	dns_txt__dmarc_judge(&set, MAMORI_WARNING, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "p=reject");
	/* dmarc_none decides p=none */
	dm_judge("v=DMARC1; p=none", 16, MAMORI_OK, &v);
	JUDGE_EXPECT(&v, MAMORI_OK, "p=none");
	dm_judge("v=DMARC1; p=none", 16, MAMORI_CRITICAL, &v);
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "p=none");
	/* a NUL inside a record does not end it */
	{
		static const char nul[] = "v=DMARC1; p=reject\0; sp=none";

		dm_judge(nul, sizeof(nul) - 1, MAMORI_WARNING, &v);
	}
	JUDGE_EXPECT(&v, MAMORI_CRITICAL, "invalid p=\"reject\\x00\"");
	/* is_dmarc keeps exactly the records the judge uses */
	{
		struct dt_txt a = txt("v=DMARC1"), b = txt("v = DMARC1 ;p=none"),
		              c = txt("v=DMARC1p=none"), e = txt("x=DMARC1");

		ck_assert(dns_txt__is_dmarc(&a) && dns_txt__is_dmarc(&b));
		ck_assert(!dns_txt__is_dmarc(&c) && !dns_txt__is_dmarc(&e));
	}
}
END_TEST

/* ---- garbage: mutations of every vector ---- */

static unsigned long rnd_state = 88172645463325252UL;

static unsigned long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static size_t mutate(const char *src, size_t n, char *dst, size_t cap)
{
	static const char pieces[] = "%{}:/=.-+~? ;,!\t\0\xff"
	                             "0123456789aAdDrRvVcCsSpP";
	size_t len = n < cap ? n : cap;

	memcpy(dst, src, len);
	for (int k = 0, m = 1 + (int)(rnd() % 4); k < m; k++) {
		size_t at = len ? rnd() % len : 0;

		switch (rnd() % 4) {
		case 0:
			if (len)
				dst[at] = pieces[rnd() % (sizeof(pieces) - 1)];
			break;
		case 1:
			len = at; /* truncate */
			break;
		case 2:
			if (len < cap) { /* insert */
				memmove(dst + at + 1, dst + at, len - at);
				dst[at] = pieces[rnd() % (sizeof(pieces) - 1)];
				len++;
			}
			break;
		default:
			if (len)
				dst[at] = (char)rnd();
		}
	}
	return len;
}

START_TEST(t_garbage)
{
	char buf[1100], err[512];

	for (int round = 0; round < 30; round++) {
		for (size_t i = 0; i < sizeof(spf_bad) / sizeof(spf_bad[0]) +
		                           sizeof(spf_good) / sizeof(spf_good[0]);
		     i++) {
			const struct spf_vec *s =
			    i < sizeof(spf_bad) / sizeof(spf_bad[0])
			        ? &spf_bad[i]
			        : &spf_good[i - sizeof(spf_bad) / sizeof(spf_bad[0])];
			size_t n = mutate(s->rec, s->len, buf, sizeof(buf) - 1);
			struct dt_spf spf;
			struct rec_cb r;
			struct dt_verdict v;
			int rc;

			buf[n] = '\0';
			rc = spf_eval_top(&spf, &r, buf, n, err, sizeof(err));
			ck_assert(rc == 0 || rc == -1);
			ck_assert_msg(rc == 0 || err[0], "no reason for a refusal");
			ck_assert_int_le(r.nf + r.nr, DT_SPF_MAX_LOOKUPS);
			dns_txt__verdict_init(&v);
			answer_all(&spf, (int)(rnd() % 4), (int)(rnd() % 13), &v);
			dns_txt__spf_judge(&spf, &v);
			ck_assert(v.state >= MAMORI_OK && v.state <= MAMORI_UNKNOWN && v.has_msg);
		}
		for (size_t i = 0; i < sizeof(dm_vecs) / sizeof(dm_vecs[0]); i++) {
			size_t n =
			    mutate(dm_vecs[i].rec, strlen(dm_vecs[i].rec), buf, sizeof(buf) - 1);
			struct dt_verdict v;

			buf[n] = '\0';
			dm_judge(buf, n, MAMORI_WARNING, &v);
			ck_assert(v.state >= MAMORI_OK && v.state <= MAMORI_UNKNOWN && v.has_msg);
		}
	}
}
END_TEST

/* ---- fuzz seeds ---- */

#define CORPUS "tests/fuzz/corpus"

static void seed_write(const char *dir, const char *name, const char *rec, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(rec, 1, len, f), len);
	fclose(f);
}

/* DNS_TXT_WRITE_SEEDS=<dir>: write every vector as a seed file, one raw
 * TXT record per file, into <dir>/dns_spf and <dir>/dns_dmarc (the
 * directories must exist).  How tests/fuzz/corpus was made. */
static void seeds_write(const char *dir)
{
	char sub[400], name[64];
	size_t i;

	snprintf(sub, sizeof(sub), "%s/dns_spf", dir);
	for (i = 0; i < sizeof(spf_bad) / sizeof(spf_bad[0]); i++) {
		snprintf(name, sizeof(name), "bad-%03zu", i);
		seed_write(sub, name, spf_bad[i].rec, spf_bad[i].len);
	}
	for (i = 0; i < sizeof(spf_good) / sizeof(spf_good[0]); i++) {
		snprintf(name, sizeof(name), "good-%03zu", i);
		seed_write(sub, name, spf_good[i].rec, spf_good[i].len);
	}
	snprintf(sub, sizeof(sub), "%s/dns_dmarc", dir);
	for (i = 0; i < sizeof(dm_vecs) / sizeof(dm_vecs[0]); i++) {
		snprintf(name, sizeof(name), "rec-%03zu", i);
		seed_write(sub, name, dm_vecs[i].rec, strlen(dm_vecs[i].rec));
	}
}

/* Every committed seed goes through its judge and is judged (the fuzz
 * target of the hardening work will use the same files). */
static int corpus_run(const char *sub, int spf)
{
	static char buf[70000];
	char dir[300], file[600], err[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/%s", CORPUS, sub);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s (run from the repository root)", dir);
	while ((e = readdir(d))) {
		FILE *f;
		size_t len;
		struct dt_verdict v;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
		f = fopen(file, "rb");
		ck_assert_msg(f != NULL, "%s", file);
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		dns_txt__verdict_init(&v);
		if (spf) {
			struct dt_spf sp;
			struct rec_cb r;

			if (spf_eval_top(&sp, &r, buf, len, err, sizeof(err)) == 0) {
				answer_all(&sp, DT_ST_NXDOMAIN, 0, &v);
				dns_txt__spf_judge(&sp, &v);
			} else {
				dns_txt__raise(&v, MAMORI_CRITICAL, "%s", err);
			}
		} else {
			dm_judge(buf, len, MAMORI_WARNING, &v);
		}
		ck_assert_msg(v.has_msg, "%s: no verdict", file);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(t_corpus)
{
	const char *dir = getenv("DNS_TXT_WRITE_SEEDS");

	if (dir)
		seeds_write(dir);
	/* as many seeds as vectors: the corpus follows the tables */
	ck_assert_int_eq(corpus_run("dns_spf", 1), (int)(sizeof(spf_bad) / sizeof(spf_bad[0]) +
	                                                 sizeof(spf_good) / sizeof(spf_good[0])));
	ck_assert_int_eq(corpus_run("dns_dmarc", 0), (int)(sizeof(dm_vecs) / sizeof(dm_vecs[0])));
}
END_TEST

static Suite *judge_suite(void)
{
	Suite *s = suite_create("dns_txt_judge");
	TCase *tc = tcase_create("spf");

	tcase_add_loop_test(tc, t_spf_bad, 0, (int)(sizeof(spf_bad) / sizeof(spf_bad[0])));
	tcase_add_loop_test(tc, t_spf_good, 0, (int)(sizeof(spf_good) / sizeof(spf_good[0])));
	tcase_add_test(tc, t_spf_select);
	tcase_add_test(tc, t_spf_first_all);
	tcase_add_test(tc, t_spf_limits);
	tcase_add_test(tc, t_spf_targets);
	tcase_add_test(tc, t_answer_size);
	suite_add_tcase(s, tc);
	tc = tcase_create("dmarc");
	tcase_add_loop_test(tc, t_dmarc_vectors, 0, (int)(sizeof(dm_vecs) / sizeof(dm_vecs[0])));
	tcase_add_test(tc, t_dmarc_set);
	suite_add_tcase(s, tc);
	tc = tcase_create("garbage");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_garbage);
	tcase_add_test(tc, t_corpus);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(judge_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
