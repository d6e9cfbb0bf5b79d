"""Built-in seed phrases and patterns for labels that no shipped terminology covers (tests, anatomy, procedures
without ICD-10-PCS loaded, medication attributes). Projects extend them with `extra_phrases` in the label config."""
from __future__ import annotations

import re

SEED_PHRASES = {
    "PROCEDURE": [
        "colonoscopy", "endoscopy", "upper endoscopy", "EGD", "cardiac catheterization", "appendectomy",
        "cholecystectomy", "laparoscopic cholecystectomy", "knee replacement", "hip replacement", "intubation",
        "central line placement", "hemodialysis", "dialysis", "thoracentesis", "paracentesis", "lumbar puncture",
        "CABG", "coronary artery bypass graft", "PCI", "stent placement", "biopsy", "bronchoscopy", "mastectomy",
        "hysterectomy", "cesarean section", "C-section", "blood transfusion", "transfusion", "cardioversion",
        "pacemaker placement", "tracheostomy", "craniotomy", "amputation", "debridement", "incision and drainage",
        "ERCP", "PEG", "TKA", "THA", "ORIF", "total knee arthroplasty", "total hip arthroplasty",
    ],
    "TEST": [
        "chest x-ray", "CXR", "CT scan", "CT", "CT abdomen", "CT head", "MRI", "MRI brain", "ultrasound",
        "echocardiogram", "echo", "EKG", "ECG", "EEG", "hemoglobin A1c", "HbA1c", "A1c", "troponin", "BNP",
        "complete blood count", "CBC", "basic metabolic panel", "BMP", "comprehensive metabolic panel", "CMP",
        "urinalysis", "UA", "urine culture", "blood cultures", "lipid panel", "TSH", "INR", "PT/INR", "creatinine",
        "potassium", "sodium", "glucose", "hemoglobin", "white blood cell count", "WBC", "platelets", "lactate",
        "d-dimer", "procalcitonin", "CRP", "ESR", "ABG", "arterial blood gas", "PET scan", "stress test",
        "pulmonary function tests", "PFTs", "colonoscopy report", "pathology", "HDL", "LDL", "PSA", "LFTs",
        "liver function tests",
    ],
    "ANATOMY": [
        "left lower lobe", "right lower lobe", "left upper lobe", "right upper lobe", "right middle lobe", "lungs",
        "lung", "heart", "left ventricle", "right ventricle", "abdomen", "liver", "kidney", "kidneys", "colon",
        "stomach", "pancreas", "gallbladder", "spleen", "bladder", "prostate", "uterus", "brain", "head", "neck",
        "chest", "back", "lumbar spine", "cervical spine", "thoracic spine", "right knee", "left knee", "knee",
        "right hip", "left hip", "hip", "shoulder", "right arm", "left arm", "right leg", "left leg", "foot", "feet",
        "hand", "skin", "eye", "ear", "throat", "thyroid", "breast", "esophagus", "small bowel", "appendix",
        "right upper quadrant", "RUQ", "left lower quadrant", "LLQ", "epigastric", "epigastrium", "groin", "ankle",
    ],
}

# Clinical shorthand in the abbreviation table that names no finding ("hx of HTN", "dx", "GI bleed" = GI + bleed).
SHORTHAND = frozenset({"hx", "dx", "sx", "tx", "rx", "gi", "abd", "nkda"})

ROUTES = ["PO", "by mouth", "orally", "oral", "IV", "intravenous", "intravenously", "IM", "intramuscular", "SC",
          "SQ", "subcutaneous", "subcutaneously", "SL", "sublingual", "inhaled", "nebulized", "topical", "topically",
          "PR", "rectal", "transdermal", "intranasal", "ophthalmic"]

ATTRIBUTE_PATTERNS = {
    "DOSAGE": re.compile(r"\b\d+(?:\.\d+)?(?:\s*-\s*\d+(?:\.\d+)?)?\s?(?:mg|mcg|µg|g|mL|ml|units?|IU|mEq|mmol|"
                         r"puffs?|tabs?|tablets?|capsules?|drops?|%)(?:/(?:kg|day|hr|h|dose))?\b", re.IGNORECASE),
    "FREQUENCY": re.compile(r"\b(?:q\.?\s?\d{1,2}\s?(?:h|hr|hrs|hours)|q\.?d\.?|b\.?i\.?d\.?|t\.?i\.?d\.?|q\.?i\.?d\.?|"
                            r"q\.?h\.?s\.?|prn|daily|once daily|twice daily|three times (?:a|per) day|nightly|"
                            r"every (?:\d+|other|morning|evening|night)(?: (?:hours?|days?|weeks?))?|weekly|monthly|"
                            r"at bedtime|as needed|once|twice)\b", re.IGNORECASE),
    "ROUTE": re.compile(r"\b(?:" + "|".join(re.escape(r) for r in sorted(ROUTES, key=len, reverse=True)) + r")\b"),
}

# Medication attributes belong to the medication before them in the same sentence (or the nearest one).
ATTRIBUTE_RELATIONS = {"DOSAGE": "dosage", "ROUTE": "route", "FREQUENCY": "frequency"}
SENTENCE_END = re.compile(r"[.;\n]\s")


# How notes write a terminology's names. ICD-10-CM titles carry coding qualifiers that nobody writes ("Unspecified
# malaria", "Botulism NOS", "Melioidosis, unspecified"); eponyms come with and without the possessive ("Huntington's
# disease", "Huntington disease"); findings come in the plural ("polyps", "renal cysts", "seizures").
_LEADING_QUALIFIER = re.compile(r"^unspecified\s+(?=\S)", re.IGNORECASE)
_TRAILING_QUALIFIER = re.compile(r"(?<=\S),?\s+(?:unspecified|NOS|not otherwise specified|not elsewhere classified|NEC)$",
                                 re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?<=[A-Za-z])['\u2019]s(?=\s)")
_PLURAL_LAST = re.compile(r"(?:^|\s)([A-Za-z]?[a-z]{3,})$")
# Where these come before the last word, the last word is not the head noun ("polyp of colon", "pain in limb").
_NOT_HEAD = frozenset({"of", "with", "without", "due", "in", "on", "to", "by", "for", "and", "or", "from", "after", "at"})


def _plural(word: str) -> str | None:
    """English plural of a lower-case noun, or None where a rule would guess (words ending in s: "-itis",
    "-osis", "-us"; Latin "-um")."""
    if word.lower().endswith(("s", "um")):
        return None
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


# American spellings of findings (as the vocabularies write them) and how British and Commonwealth notes write them:
# "haemorrhage", "anaemia", "oedema", "diarrhoea", "oesophagitis", "paediatric", "tumour".
_BRITISH = (
    (re.compile(r"\bhem(?=[ao])", re.IGNORECASE), "haem"), (re.compile(r"(?<=[a-z])emi(?=as?\b|c\b)"), "aemi"),
    (re.compile(r"\bedema", re.IGNORECASE), "oedema"), (re.compile(r"\besophag", re.IGNORECASE), "oesophag"),
    (re.compile(r"\bestrogen", re.IGNORECASE), "oestrogen"), (re.compile(r"\bpediatric", re.IGNORECASE), "paediatric"),
    (re.compile(r"(?:(?<=r)rh|(?<=p)n)ea\b"), lambda m: m.group()[:-2] + "oea"),
    (re.compile(r"\btumor", re.IGNORECASE), "tumour"), (re.compile(r"(?<=an)esthe", re.IGNORECASE), "aesthe"),
    (re.compile(r"\betiolog", re.IGNORECASE), "aetiolog"),
)
# A phrase holding none of these has no British form: most titles, tested without running the patterns above.
_BRITISH_KEYS = ("hema", "hemo", "emia", "emic", "edema", "esophag", "estrogen", "pediatric", "rrhea", "pnea", "tumor",
                 "esthe", "etiolog")
# A hyphen between two words of a title ("Hemolytic-uremic syndrome") is often a space in notes.
_WORD_HYPHEN = re.compile(r"(?<=[A-Za-z])-(?=[A-Za-z])")


def british_spelling(phrase: str) -> str:
    low = phrase.lower()
    if not any(key in low for key in _BRITISH_KEYS):
        return phrase
    for pattern, replacement in _BRITISH:
        phrase = pattern.sub(replacement, phrase)
    return phrase


def phrase_variants(phrase: str, plural: bool = True) -> list[str]:
    """Other ways notes write `phrase` (not including it): without coding qualifiers, without the possessive of an
    eponym, with spaces for hyphens between words, and (for findings: `plural`) with a lower-case last word in the
    plural and in British spelling."""
    base = " ".join(phrase.split())
    stripped = _TRAILING_QUALIFIER.sub("", _LEADING_QUALIFIER.sub("", base))
    forms = [stripped, _POSSESSIVE.sub("", stripped)]
    if _POSSESSIVE.search(stripped):  # text rebuilt from tokens (CoNLL imports) reads "Parkinson ' s disease"
        forms.append(_POSSESSIVE.sub(" ' s", stripped))
    if "-" in stripped:
        forms += [_WORD_HYPHEN.sub(" ", form) for form in forms if _WORD_HYPHEN.search(form)]
    if plural:
        forms += [british_spelling(form) for form in forms]
        for form in list(forms):
            if _NOT_HEAD.intersection(form.lower().split()):
                continue
            last = _PLURAL_LAST.search(form)
            word = _plural(last.group(1)) if last else None
            if word:
                forms.append(form[:last.start(1)] + word)
    seen = {base}
    return [form for form in forms if form and not (form in seen or seen.add(form))]


# Substances in ICD-10-CM's poisoning/toxic-effect (T36-T65) and substance-use (F10-F19) chapters: their bare names
# ("cocaine", "caffeine") are drugs, a problem only where the phrase says poisoning, abuse or a disorder ("cocaine
# use", F14.90 "use, unspecified", names the drug).
SUBSTANCE_CODES = re.compile(r"^(?:T3[6-9]|T[45]\d|T6[0-5]|F1\d)")
SUBSTANCE_PROBLEM_WORDS = re.compile(
    r"poison|toxic|overdose|abuse|dependence|intoxicat|withdrawal|adverse|misuse|disorder|effect|"
    r"underdosing|remission|induced", re.I)
SUBSTANCE_USE_TITLE = re.compile(r"^(.*\buse)(?:, unspecified)?$", re.I)  # F14.9 "Cocaine use, unspecified"

# Morphological families of problems a vocabulary may miss: nephrotoxicity, cholangitis, hyperkalaemia,
# cardiomyopathy, neuralgia.
# "toxicity" on its own and the organ-toxic adjectives ("nephrotoxic", "ototoxic") name a problem too; "cytotoxic"
# (a drug class) does not.
MORPHOLOGICAL_PROBLEM = re.compile(
    r"\b(?:[A-Za-z]{3,})?toxicit(?:y|ies)\b|\b[A-Za-z]{3,}(?:itis|aemia|emia|opathy|opathies|algia)\b|"
    r"\b(?:nephro|neuro|cardio|hepato|oto|myelo|pneumo)toxic\b", re.IGNORECASE)
NOT_MORPHOLOGICAL_PROBLEM = frozenset({"academia", "homeopathy", "osteopathy", "naturopathy", "empathy"})


# The adjective of a one-word finding names the finding in "hypertensive patients", "epileptic seizures",
# "psychotic symptoms": hypertension -> hypertensive, diabetes -> diabetic, epilepsy -> epileptic, ischaemia ->
# ischaemic, psychosis -> psychotic, schizophrenia -> schizophrenic, parkinsonism -> parkinsonian.
_ADJECTIVE_RULES = (("ension", "ensive"), ("etes", "etic"), ("epsy", "eptic"), ("osis", "otic"),
                    ("aemia", "aemic"), ("emia", "emic"), ("esia", "etic"), ("itis", "itic"), ("ia", "ic"),
                    ("parkinsonism", "parkinsonian"))


def adjective_form(word: str) -> str | None:
    """The adjective of a one-word finding name by its ending, or None (short words and other endings)."""
    lower = word.lower()
    if len(lower) < 6 or not lower.isalpha():
        return None
    for ending, adjective in _ADJECTIVE_RULES:
        if lower.endswith(ending):
            return lower[:len(lower) - len(ending)] + adjective
    return None

def adjective_head(title: str) -> str | None:
    """The word whose adjective names the finding: a one-word title ("Epilepsy"), or the noun before a Latin
    qualifier ("Diabetes mellitus" -> "Diabetes")."""
    words = title.split()
    if len(words) == 2 and words[1].lower() in ("mellitus", "insipidus"):
        return words[0]
    return words[0] if len(words) == 1 else None


# Adjectives of that form that name drugs or normal processes, not a finding.
NOT_ADJECTIVE_PROBLEM = frozenset({
    "narcotic", "hypnotic", "hypoglycemic", "hypoglycaemic", "anesthetic", "anaesthetic", "analgesic", "osmotic",
    "mitotic", "antibiotic", "systemic", "chronic", "toxic", "biotic", "cytotoxic", "amnesic", "neurotic"})


# Chemicals a drug dictionary lacks because they are classes, hormones, transmitters or simple compounds rather
# than marketed drugs. Names that notes use for laboratory tests (sodium, potassium, glucose) stay TEST seeds.
CHEMICAL_SEEDS = [
    "steroid", "steroids", "corticosteroid", "corticosteroids", "glucocorticoid", "glucocorticoids",
    "mineralocorticoid", "catecholamine", "catecholamines", "adrenaline", "noradrenaline", "ethanol",
    "ammonia", "superoxide", "nitric oxide", "hydrogen peroxide", "creatine", "acetylcholine", "histamine",
    "glutamate", "anthracycline", "anthracyclines", "aminoglycoside", "aminoglycosides",
    "sulfonamide", "sulfonamides", "nitrate", "nitrates", "estrogen", "estrogens", "progestin", "androgen",
]
SEED_PHRASES["MEDICATION"] = CHEMICAL_SEEDS
# General pathological processes and signs that ICD-10-CM and HPO name only inside longer titles ("Infection,
# unspecified" aside, "Acute myocardial ischemia", "Drug overdose"): on their own they are problems too.
SEED_PHRASES["PROBLEM"] = [
    "infection", "infections", "inflammation", "necrosis", "ischemia", "ischaemia", "atrophy", "hypertrophy",
    "overdose", "overdoses", "asystole", "catalepsy", "myelosuppression", "malformation", "malformations",
    "fibrosis", "toxicity",
    # Findings and lesions whose only vocabulary titles are longer ("Nontraumatic hematoma of soft tissue",
    # "Bruising susceptibility", "Urinary incontinence"); written for this project, not taken from a corpus.
    "hemolysis", "haemolysis", "hematoma", "hematomas", "haematoma", "haematomas", "bruising", "bruises", "bleeding",
    "spasm", "spasms", "vasospasm", "incontinence", "ulcer", "ulcers", "ulceration", "calcification",
    "calcifications", "infarction", "infarctions", "infarct", "infarcts", "stenosis", "embolism", "emboli",
    "birth defect", "birth defects", "bone marrow suppression", "blood loss", "malignancy", "malignancies",
    "thrombus", "thrombi", "thromboembolism", "thromboemboli", "psychoses", "dysrhythmia", "dysrhythmias",
    "tachyarrhythmia", "tachyarrhythmias", "hyperplasia", "drug abuse", "substance abuse", "polysubstance abuse",
    "drug dependence", "gall stones", "gall stone", "hemodilution", "intravascular coagulation", "Duchenne dystrophy",
    "hypolocomotion",
]
# Phrases a vocabulary lists as a finding that, written on their own, name none: a specialty ("Eastern Cooperative
# Oncology Group"), effects in general, a biochemical process.
NOT_PROBLEM_PHRASES = frozenset({"oncology", "adverse effect", "adverse effects", "side effect", "side effects",
                                 "oxidative stress"})
# A measured quantity with no word saying it is abnormal ("intracranial pressure", "heart rate") is no finding;
# "raised intracranial pressure" is.
QUANTITY_NOT_FINDING = re.compile(
    r"^(?!.*\b(?:increased|decreased|high|low|elevated|raised|reduced|abnormal|poor|rapid|slow|irregular|excessive|"
    r"fast|labile|impaired)\b)(?:[a-z]+[ -]+){0,2}(?:pressure|rate|levels?|weight|volume|temperature|count)$")
# Abbreviation expansions that name a place, a service or a record, not a finding ("ED": emergency department).
NOT_FINDING_EXPANSION = re.compile(r"\b(?:department|unit|room|service|clinic|history|oncology)$")

# Medication spans that name a receptor family or nucleic acid, not a drug: "adrenergic", "muscarinic", "mRNA".
NOT_MEDICATION = re.compile(r"^(?:(?!anti)[a-z]*ergic|[a-z]*adrenoceptors?|muscarinic|nicotinic|(?:m|mt|r|t)?[DR]NA)$",
                            re.IGNORECASE)

# Enzymes, by the endings of their names: a drug dictionary built from MeSH lists them ("ATPase", "NO synthase",
# "aminotransferase") but notes name them as targets and laboratory values, not as something given. The enzymes
# that are drugs (ENZYME_DRUGS) stay medications.
_ENZYME_ENDINGS = (r"(?:kinase|phosphatase|synthase|synthetase|transferase|reductase|oxidase|genase|drolase|lyase|"
                   r"isomerase|ligase|merase|protease|peptidase|lipase|esterase|amylase|nuclease|[ATG]Pase|cyclase|"
                   r"aminase|idase|tase|elastase|catalase|urease|enzyme)s?")
ENZYME_NAME = re.compile(_ENZYME_ENDINGS + "$", re.IGNORECASE)
ENZYME_DRUGS = re.compile(
    r"(?:alteplase|reteplase|tenecteplase|anistreplase|streptokinase|urokinase|asparaginase|pegaspargase|"
    r"rasburicase|pegloticase|dornase(?: alfa)?|hyaluronidase|pancrelipase|imiglucerase|velaglucerase|"
    r"taliglucerase|alglucosidase|agalsidase|idursulfase|galsulfase|laronidase|collagenase|sacrosidase|lactase)$",
    re.IGNORECASE)
# A medication found through an abbreviation ("MRP2", "Pgp", "CCO") whose concept is a protein of these kinds names
# a gene product or a target, not a drug; the abbreviation's text tells nothing more.
PROTEIN_CONCEPT = re.compile(r"\b(?:receptors?|transporters?|cassette|complex|cytochrome|antibodies|autoantibodies|"
                             r"hemoglobin|methemoglobin|proteins?)\b|" + _ENZYME_ENDINGS + r"\b", re.IGNORECASE)

# Drug classes named by what they do ("analgesics", "calcium channel blockers", "ACE inhibitors"); classes named
# by their chemistry ("steroids", "benzodiazepines") are chemicals and not in this list.
FUNCTIONAL_DRUG_CLASS = re.compile(
    r"(?:^|[\s-])(?:drugs?|agents?|medications?|blockers?|inhibitors?|antagonists?|agonists?)$|"
    r"^(?:[a-z]+[\s-]+)?(?:analgesic|an(?:a)?esthetic|antibiotic|anticonvulsant|antiepileptic|antipsychotic|"
    r"neuroleptic|antidepressant|anticholinergic|convulsant|immunosuppressant|sedative|hypnotic|narcotic|"
    r"vasodilator|diuretic|antiarrhythmic|antihypertensive|antiplatelet|anticoagulant|neurotransmitter)s?$",
    re.IGNORECASE)
# Before a drug class, words that say the patient is given, takes, stopped or does not tolerate it: the class then
# names this patient's medication ("started antibiotics", "allergic to sulfa drugs"), not a statement about drugs.
DRUG_IN_USE_BEFORE = re.compile(
    r"\b(?:on|start(?:ed|ing|s)?|restart(?:ed)?|given|giving|receiv(?:e|es|ed|ing)|tak(?:e|es|ing)|took|"
    r"continu(?:e|ed|ing)|resum(?:e|ed)|stop(?:ped)?|discontinu(?:e|ed)|held|hold(?:ing)?|allerg(?:y|ic|ies)(?: to)?|"
    r"intoleran(?:t|ce)(?: of| to)?|prescrib(?:e|ed)|needs?|requir(?:es|ed|ing))[ \t]+"
    r"(?:(?:an?|the|his|her|their|iv|po|oral|home|all|any|more|further|empiric(?:al)?|broad[ -]spectrum)[ \t]+){0,2}$",
    re.IGNORECASE)
DRUG_IN_USE_AFTER = re.compile(r"[ \t]*(?:\d|(?:PO|IV|IM|SC|PRN|daily|bid|tid|qid|qhs|q\d+h?)\b)", re.IGNORECASE)

# A medication span ending in these names a target, not the drug ("NMDA receptor"): the drug is the part before.
RECEPTOR_WORDS = re.compile(r"\s+(?:receptors?|channels?|transporters?)$", re.IGNORECASE)
# Stereo and isomer prefixes written before a drug name: "D-penicillamine", "L-dopa", "alpha-tocopherol".
STEREO_PREFIX = re.compile(r"(?<![\w-])(?:[DL]|DL|alpha|beta|cis|trans|[αβ])[ \t]*-[ \t]*$")
# Research compound codes ("MK-801", "SM-5887", "FK506", "AMN082"): capitals, then three or more digits, joined
# or hyphenated. Spaced forms ("HR 110", "MRN 123456") are vitals and identifiers, so they are not read.
COMPOUND_CODE = re.compile(r"(?<![\w-])[A-Z]{2,4}(?:[ \t]*-[ \t]*|)\d{3,6}[A-Z]?(?![\w-]|[ \t]*[-/:])")
