#!/usr/bin/python3
"""real_al.py — the real lightly pip package (1.1.x, from its source tree)
driving a `sievefs serve` through its active-learning workflow. Not run by
the test suite (the package is never a dependency: t_lightly_al.sh replays
the same routes with driver.py's `activelearning`); run by hand to check the
door against the package itself:

    sievefs token create --store STORE alice > WORK/alice.tok; chmod 600 WORK/alice.tok
    sievefs serve STORE --listen 127.0.0.1:8420 &
    LIGHTLY_SERVER_LOCATION=http://127.0.0.1:8420/lightly \
        /usr/bin/python3 tests/lightly/real_al.py LIGHTLY_SRC WORK

LIGHTLY_SRC: a checkout of lightly-ai/lightly at v1.1.7 (its `lightly`
package is imported from there with the submodules that need hydra/torch
left out); needs numpy, requests and Pillow. Uploads 20 PNGs, embeddings,
RANDOM labeled-5, then ActiveLearningAgent + ScorerClassification queries
with ACTIVE_LEARNING and CORAL, CORESET with a preselected tag, a refused
nSamples, tag arithmetics, download_dataset; asserts each result and
deletes the dataset (KEEP=1 keeps it). Exit 0 when all held.
"""
import os, sys, types, csv
src = sys.argv[1]
sys.path.insert(0, src)
for name in ("lightly", "lightly.utils", "lightly.data"):
    m = types.ModuleType(name); m.__path__ = [os.path.join(src, *name.split("."))]
    if name == "lightly": m.__version__ = "1.1.7"
    sys.modules[name] = m
sys.modules["lightly.__init__"] = sys.modules["lightly"]
import numpy as np
from lightly.api.api_workflow_client import ApiWorkflowClient
from lightly.active_learning.config.sampler_config import SamplerConfig
from lightly.active_learning.agents.agent import ActiveLearningAgent
from lightly.active_learning.scorers.classification import ScorerClassification
from lightly.openapi_generated.swagger_client.models.sampling_method import SamplingMethod
print("imports OK")
from lightly.openapi_generated.swagger_client.models.tag_arithmetics_request import TagArithmeticsRequest
from lightly.api.bitmask import BitMask
from PIL import Image
import random, glob

W = sys.argv[2]
tok = open(W + "/alice.tok").read().strip()
c = ApiWorkflowClient(token=tok)
os.makedirs(W + "/src", exist_ok=True)
r = random.Random(5)
for i in range(20):
    im = Image.new("RGB", (32, 24), (r.randrange(256), r.randrange(256), r.randrange(256)))
    im.save(W + "/src/img%02d.png" % i)
c.create_dataset("al-real")
print("create_dataset OK", c.dataset_id)
c.upload_dataset(W + "/src", max_workers=2, mode="full")
print("upload_dataset OK")
names = list(c.filenames_on_server)
print("filenames_on_server:", len(names))
with open(W + "/emb.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["filenames", "embedding_0", "embedding_1", "labels"])
    for i, n in enumerate(sorted(names)):
        w.writerow([n, i % 5, i // 5, 0])
c.upload_embeddings(W + "/emb.csv", "default")
print("upload_embeddings OK")

# the first labelled set: 5 at random
t0 = c.sampling(SamplerConfig(method=SamplingMethod.RANDOM, n_samples=5, name="labeled-5"))
print("RANDOM labeled-5 OK:", t0.name, t0.bit_mask_data)

agent = ActiveLearningAgent(c, preselected_tag_name="labeled-5")
print("agent: query_set", len(agent.query_set), "labeled_set", len(agent.labeled_set),
      "unlabeled_set", len(agent.unlabeled_set))

def predictions(n, seed):
    g = np.random.default_rng(seed)
    p = g.random((n, 3)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)

pred = predictions(len(agent.query_set), 1)
scorer = ScorerClassification(pred)
scores = scorer.calculate_scores()
print("score types:", sorted(scores))
# lightly 1.1.7's BitMask.masked_select_from_list reads bit 0 as the LAST
# filename (later releases: bit 0 = index 0, the platform's rule and the
# door's), so the agent's labeled_set/added_set are read here by bit index
fos = list(c.filenames_on_server)
def members(tag_name):
    t = next(t for t in c._get_all_tags() if t.name == tag_name)
    return set(fos[i] for i in BitMask.from_hex(t.bit_mask_data).to_indices())
pre = members("labeled-5")
agent.query(SamplerConfig(method=SamplingMethod.ACTIVE_LEARNING, n_samples=10, name="al-10"), scorer)
new = members("al-10")
added = new - pre
print("ACTIVE_LEARNING al-10 OK: %d samples, the 5 preselected kept: %s, %d added" % (len(new), pre <= new, len(added)))
assert len(new) == 10 and pre <= new and len(added) == 5
for st, v in sorted(scores.items()):
    unl = sorted(((float(x), n) for x, n in zip(v, fos) if n not in pre), key=lambda x: -x[0])
    top = set(n for _, n in unl[:5])
    print("  %-30s the 5 most uncertain unlabelled == added: %s" % (st, top == added))
    if st == "uncertainty_margin":
        assert top == added

pre = members("al-10")
pred2 = predictions(len(agent.query_set), 2)
agent.query(SamplerConfig(method=SamplingMethod.CORAL, n_samples=15, name="coral-15"), ScorerClassification(pred2))
new = members("coral-15")
print("CORAL coral-15 OK: %d samples, al-10 kept: %s, %d added" % (len(new), pre <= new, len(new - pre)))
assert len(new) == 15 and pre <= new

# CORESET with a preselected tag, through a new agent, no scorer
agent2 = ActiveLearningAgent(c, preselected_tag_name="al-10")
agent2.query(SamplerConfig(method=SamplingMethod.CORESET, n_samples=12, name="core-12"))
new = members("core-12")
print("CORESET core-12 (preselected al-10) OK: %d samples, al-10 kept: %s" % (len(new), pre <= new))
assert len(new) == 12 and pre <= new
# too small a batch: the agent skips (n_samples < labelled), the door refuses n_samples == labelled
try:
    c.sampling(SamplerConfig(method=SamplingMethod.CORESET, n_samples=12, name="core-same"), preselected_tag_id=next(t.id for t in c._get_all_tags() if t.name == "core-12"))
    print("n_samples == preselected: accepted?!"); sys.exit(1)
except Exception as e:
    print("n_samples == preselected size: refused:", str(e).splitlines()[0], "|", str(e).splitlines()[-1][:160])

tags = {t.name: t for t in c._get_all_tags()}
print("tags:", sorted(tags))
n = len(names)
def arith(op, a, b, new=None):
    body = TagArithmeticsRequest(tag_id1=tags[a].id, tag_id2=tags[b].id, operation=op, new_tag_name=new)
    res = c.tags_api.perform_tag_arithmetics(body, c.dataset_id)
    return res
for op in ("UNION", "INTERSECTION", "DIFFERENCE"):
    res = arith(op, "coral-15", "core-12")
    a = BitMask.from_hex(tags["coral-15"].bit_mask_data).x
    b = BitMask.from_hex(tags["core-12"].bit_mask_data).x
    want = {"UNION": a | b, "INTERSECTION": a & b, "DIFFERENCE": a & ~b}[op]
    got = BitMask.from_hex(res.bit_mask_data).x
    print("tag arithmetics %-12s %s == %s: %s" % (op, res.bit_mask_data, hex(want), got == want))
    assert got == want
res = arith("UNION", "labeled-5", "core-12", new="union-tag")
tags = {t.name: t for t in c._get_all_tags()}
print("arithmetics with newTagName: tag made:", "union-tag" in tags,
      "prevTagId is tagId1:", tags["union-tag"].prev_tag_id == tags["labeled-5"].id)
c.download_dataset(W + "/dl", tag_name="coral-15")
print("download_dataset coral-15:", len(glob.glob(W + "/dl/**/*.png", recursive=True)), "files")
if not os.environ.get("KEEP"):
    c.delete_dataset_by_id(c.dataset_id)
    print("delete OK")
