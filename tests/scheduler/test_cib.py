"""CIB import and export: safety limits, and writing then reading keeps every placement."""

from pathlib import Path

import pytest

from raftha.cib import MAX_CIB_BYTES, CibError, parse_cib, write_cib
from raftha.scheduler.simulate import final_placement

CORPUS = Path(__file__).resolve().parent.parent / "pacemaker-cases" / "xml"


def test_dtd_and_entities_are_refused():
    with pytest.raises(CibError, match="DTD or entity"):
        parse_cib('<!DOCTYPE cib [<!ENTITY x "y">]><cib><configuration/></cib>')
    with pytest.raises(CibError, match="DTD or entity"):
        parse_cib('<!ENTITY x "y"><cib/>')


def test_oversized_and_malformed_input_is_refused():
    with pytest.raises(CibError, match="larger than"):
        parse_cib("<cib>" + " " * (MAX_CIB_BYTES + 1) + "</cib>")
    with pytest.raises(CibError, match="not well-formed"):
        parse_cib("<cib><configuration>")
    with pytest.raises(CibError, match="expected <cib>"):
        parse_cib("<other/>")
    with pytest.raises(CibError, match="no <configuration>"):
        parse_cib("<cib/>")


def test_unknown_id_ref_is_a_clear_error():
    text = ('<cib><configuration><resources><primitive id="a" class="ocf" type="Dummy" '
            'provider="pacemaker"><meta_attributes id-ref="missing"/></primitive>'
            '</resources></configuration></cib>')
    with pytest.raises(CibError, match="id-ref 'missing'"):
        parse_cib(text)


def test_written_cib_keeps_the_placement_of_every_corpus_case():
    differing = []
    for path in sorted(CORPUS.glob("*.xml")):
        config, status = parse_cib(path.read_text())
        again_config, again_status = parse_cib(write_cib(config, status))
        assert again_config == config, path.name
        if final_placement(config, status) != final_placement(again_config, again_status):
            differing.append(path.name)
    assert differing == []
