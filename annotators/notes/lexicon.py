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
    ],
    "TEST": [
        "chest x-ray", "CXR", "CT scan", "CT", "CT abdomen", "CT head", "MRI", "MRI brain", "ultrasound",
        "echocardiogram", "echo", "EKG", "ECG", "EEG", "hemoglobin A1c", "HbA1c", "A1c", "troponin", "BNP",
        "complete blood count", "CBC", "basic metabolic panel", "BMP", "comprehensive metabolic panel", "CMP",
        "urinalysis", "UA", "urine culture", "blood cultures", "lipid panel", "TSH", "INR", "PT/INR", "creatinine",
        "potassium", "sodium", "glucose", "hemoglobin", "white blood cell count", "WBC", "platelets", "lactate",
        "d-dimer", "procalcitonin", "CRP", "ESR", "ABG", "arterial blood gas", "PET scan", "stress test",
        "pulmonary function tests", "PFTs", "colonoscopy report", "pathology",
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
