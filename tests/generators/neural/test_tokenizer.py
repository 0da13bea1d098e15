"""Character tokenizer: round trips, control tokens, prompts, persistence."""

from generators.neural.tokenizer import CharTokenizer

CHARS = list("纯棉连衣裙夏季透气到手元满减！，。0123456789.学生党宝妈款这")


def _tok() -> CharTokenizer:
    return CharTokenizer(CHARS, ["服饰", "美妆"], ["学生党", "宝妈"], ["材质", "季节", "价格"])


def test_text_round_trip_and_unknown_chars():
    tok = _tok()
    for text in ["纯棉连衣裙，夏季透气！", "到手99.9元", "满199减30"]:
        ids = tok.encode_text(text)
        assert all(tok.is_text_token(i) for i in ids)
        assert tok.decode(ids) == text
    ids = tok.encode_text("纯棉T恤")  # T and 恤 are not in the vocabulary
    assert ids.count(tok.unk_id) == 2 and tok.decode(ids) == "纯棉"
    assert tok.decode(tok.encode_text("纯 棉")) == "纯棉"  # whitespace is dropped


def test_decode_stops_at_eos_and_drops_controls():
    tok = _tok()
    ids = [tok.index["<cat:服饰>"], *tok.encode_text("纯棉"), tok.eos_id, *tok.encode_text("夏季")]
    assert tok.decode(ids) == "纯棉"


def test_prompt_layout_and_canonical_attribute_order():
    tok = _tok()
    facts = {"价格": "99", "材质": "纯棉", "不认识": "x"}
    ids = tok.encode_prompt(category="服饰", subcategory="连衣裙", brand="宝妈", facts=facts, segment="学生党", length="M")
    tokens = [tok.tokens[i] for i in ids]
    assert tokens[:5] == ["<bos>", "<cat:服饰>", "<len:M>", "<seg:学生党>", "<sub>"]
    assert tokens[-1] == "<sep>"
    assert tokens.index("<a:材质>") < tokens.index("<a:价格>")  # canonical order, not dict order
    assert "".join(tokens[tokens.index("<a:材质>") + 1:tokens.index("<a:价格>")]) == "纯棉"
    none = tok.encode_prompt(category="服饰", subcategory="连衣裙", brand="宝妈", facts=facts, segment=None, length="M")
    assert tok.tokens[none[3]] == "<seg:none>"


def test_save_load_round_trip(tmp_path):
    tok = _tok()
    tok.save(tmp_path / "tok.json")
    back = CharTokenizer.load(tmp_path / "tok.json")
    assert back.tokens == tok.tokens
    assert back.encode_text("纯棉连衣裙") == tok.encode_text("纯棉连衣裙")


def test_slots_decode_to_the_items_own_values():
    tok = _tok()
    slots = tok.slot_values({"材质": "纯棉", "价格": "99"}, subcategory="连衣裙", brand="宝妈")
    ids = [tok.index["<brand>"], *tok.encode_text("这款"), tok.index["<sub>"], *tok.encode_text("，"),
           tok.slot_id("材质"), *tok.encode_text("，到手"), tok.slot_id("价格"), *tok.encode_text("元"),
           tok.slot_id("季节"), tok.eos_id, tok.slot_id("材质")]
    assert tok.decode(ids, slots) == "宝妈这款连衣裙，纯棉，到手99元"  # 季节: the item has none -> dropped
    assert tok.mentions(ids, slots) == [["材质", "纯棉"], ["价格", "99"]]
    never = tok.output_mask()
    assert not never[tok.eos_id] and not never[tok.slot_id("季节")] and not never[tok.index["<sub>"]]
    assert never[tok.pad_id] and never[tok.index["<a:材质>"]] and never[tok.index["<cat:服饰>"]]
    assert not any(never[tok.n_control:])


def test_delexicalized_targets_round_trip_through_decode():
    from generators.neural.data import build_tokenizer, delexicalize, encode_corpus, item_prompt_fields
    from generators.neural.recipe import build_world

    items, corpus = build_world(30, seed=5, holdout_templates=0.0, personas_per_item=4)
    tok = build_tokenizer(corpus["text"].tolist(), items)
    seqs = encode_corpus(tok, corpus, items)
    fields = {r["item_id"]: item_prompt_fields(r) for r in items.to_dict("records")}
    for i, (item_id, text) in enumerate(zip(corpus["item_id"], corpus["text"], strict=True)):
        f = fields[item_id]
        target = seqs.tokens[i][seqs.prompt_len[i]:]
        assert target[-1] == tok.eos_id
        assert tok.decode(target, tok.slot_values(f["facts"], f["subcategory"], f["brand"])) == "".join(text.split())
    assert delexicalize(tok, "满799减100，到手79元", [["价格", "79"], ["促销", "满799减100"]], "裙", "澜屿") == [
        tok.slot_id("促销"), *tok.encode_text("，到手"), tok.slot_id("价格"), *tok.encode_text("元")]
