#!/usr/bin/env python3
"""Generates test XML plus ground truth (start, length, email, phone) of every /contests/contest/entry.
usage: gen.py tricky OUT.xml TARGET_MB   |   gen.py bench OUT.xml NRECORDS   |  gen.py latin2|utf16|ns|nslatin2 OUT.xml NREC
ns / nslatin2: prefixes and a default namespace declared on the root (UTF-8 / ISO-8859-2).
Ground truth is written to OUT.xml.truth (TSV)."""
import sys, random
mode, out, n = sys.argv[1], sys.argv[2], float(sys.argv[3])
random.seed(42)
enc = 'utf-8'
buf = bytearray(); truth = []
def w(s): buf.extend(s.encode(enc) if isinstance(s, str) else s)
def rec(s, email, phone):
    start = len(buf); w(s); truth.append((start, len(buf) - start, email, phone))

def tricky_records(i):
    nl = '\r\n'
    e, p = f'user{i}@example.org', f'+420 {i:09d}'
    k = i % 12
    if k == 0:   # ordinary multi-line, CRLF, attr with '>' and '/>', multi-byte UTF-8, CDATA with decoy tags
        rec(f'<entry id="{i}" note="a>b/>c &amp; d"\r\n   kind=\'x\'>{nl}  <id>{i}</id>{nl}  <name>Zoë Łukasz 日本語 😀</name>{nl}'
            f'  <email>{e}</email>{nl}  <phone>{p}</phone>{nl}  <contest>c{i%7}</contest>{nl}'
            f'  <answer><![CDATA[ </entry><entry x="1"> ]] > ]]><![CDATA[]]>tail — “quoted”</answer>{nl}</entry>', e, p)
    elif k == 1: rec(f'<entry email="{e}" phone="{p}"/>', e, p)                  # self-closing, fields as attributes
    elif k == 2: rec('<entry/>', '', '')
    elif k == 3: rec(f'<entry a=\'x>\'\r\n  email="{e}"   />', e, '')              # self-closing with CRLF + blanks before />
    elif k == 4: rec(f'<entry><email>{e}</email><phone>{p}</phone></entry   \r\n>', e, p)  # blanks inside end tag
    elif k == 5:                                                                    # comment + PI between records, no blanks
        w(f'<!-- <entry a="1"/> </entry> -->{nl}<?pi <entry> </entry> ?>')
        rec(f'<entry><email>{e}</email><!-- <phone>no</phone> --><phone>{p}</phone></entry>', e, p)
    elif k == 6:  # nested element also called entry (inside record) + char refs
        rec(f'<entry><email>{e}</email><entry><email>inner</email></entry><phone>&#x2B;{p[1:]}</phone><t>&lt;&#233;&gt;</t></entry>', e, p)
    elif k == 7:  # decoy: entry at another path, not a record
        w(f'<other><entry><email>decoy</email></entry></other>')
        rec(f'<entry>\n<email>{e}</email>\n<phone>{p}</phone>\n</entry>', e, p)
    elif k == 8 and i % 480 == 8:   # a record much larger than libxml2 buffers: 300 KB of text
        rec(f'<entry><email>{e}</email><answer>' + ('ž' * 150000) + f'</answer><phone>{p}</phone></entry>', e, p)
    elif k == 9 and i % 480 == 9:   # a start tag much larger than buffers: 200 KB attribute
        rec(f'<entry big="' + ('x' * 200000) + f'" email="{e}"><phone>{p}</phone></entry>', e, p)
    elif k == 10: # email split by CDATA and char ref: text assembled from several callbacks
        rec(f'<entry><email>user{i}<![CDATA[@]]>example&#46;org</email><phone>{p}</phone></entry>', e, p)
    else:
        rec(f'<entry><id>{i}</id><name>Ελληνικά {i}</name><email>{e}</email><phone>{p}</phone><answer>{"é" * (i % 200)}</answer></entry>', e, p)

if mode == 'tricky':
    w('\ufeff<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- head <entry/> -->\r\n<contests>\r\n')
    i = 0; target = n * 1e6
    while len(buf) < target:
        w('<contest name="c">' if i % 50 else '<contest name="c">\r\n')    # first record right after '>' sometimes
        for j in range(50):
            tricky_records(i); i += 1
            if i % 3: w('\r\n  ')
        w('</contest>\r\n')
    w('</contests>\r\n')
elif mode == 'bench':
    w('<?xml version="1.0" encoding="UTF-8"?>\n<contests>\n')
    words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor'.split()
    for c in range(int(n) // 1000):
        w(f'  <contest id="{c}">\n')
        for j in range(1000):
            i = c * 1000 + j; e, p = f'u{i}@ex.org', f'555{i:07d}'
            ans = ' '.join(random.choice(words) for _ in range(40))[:100]
            rec(f'<entry><id>{i}</id><name>N{i}</name><email>{e}</email>'
                f'<phone>{p}</phone><contest>c{c}</contest><answer>{ans}</answer></entry>', e, p)
            w('\n')
        w('\n  </contest>\n')
    w('</contests>\n')
elif mode in ('latin2', 'utf16'):
    enc = 'iso-8859-2' if mode == 'latin2' else 'utf-16-le'
    if mode == 'utf16': buf.extend(b'\xff\xfe')
    w('<?xml version="1.0" encoding="%s"?>' % ('ISO-8859-2' if mode == 'latin2' else 'UTF-16') + '\n<contests xmlns:p="urn:p"><contest>\n')
    for i in range(int(n)):
        e, p = f'žluťoučký{i}@example.cz', f'{i}'
        extra = ' 😀𝄞' if mode == 'utf16' else ''
        if i % 500 == 7:   rec(f'<entry><email>{e}</email><a>' + ('ž' + extra) * 100000 + f'</a><phone>{p}</phone></entry>', e, p)
        elif i % 500 == 9: rec(f'<entry big="' + ('ů' + extra) * 100000 + f'" email="{e}"><phone>{p}</phone></entry>', e, p)
        else: rec(f'<entry><name>Příliš žluťoučký kůň úpěl ďábelské ódy {i}{extra}</name><email>{e}</email><phone>{p}</phone></entry>', e, p)
        w('\n')
    w('</contest></contests>\n')
elif mode in ('ns', 'nslatin2'):
    enc = 'utf-8' if mode == 'ns' else 'iso-8859-2'
    w('<?xml version="1.0" encoding="%s"?>\n' % ('UTF-8' if mode == 'ns' else 'ISO-8859-2'))
    w('<c:contests xmlns:c="urn:contests" xmlns="urn:default" xmlns:x="urn:x"><c:contest xmlns:y="urn:y">\n')
    for i in range(int(n)):
        e, p = f'pe{i}@příklad.cz', f'{i}'
        k = i % 3
        if k == 0:   rec(f'<c:entry x:id="{i}"><email>{e}</email><x:phone>{p}</x:phone><y:note>ž</y:note></c:entry>', e, p)
        elif k == 1: rec(f'<c:entry email="{e}" x:phone="{p}"/>', e, p)
        else:        rec(f'<entry><email>{e}</email><phone>{p}</phone></entry>', e, p)
        w('\n')
    w('</c:contest></c:contests>\n')
open(out, 'wb').write(buf)
with open(out + '.truth', 'w', encoding='utf-8') as f:
    for t in truth: f.write('%d\t%d\t%s\t%s\n' % t)
print(out, len(buf), 'bytes', len(truth), 'records', file=sys.stderr)
