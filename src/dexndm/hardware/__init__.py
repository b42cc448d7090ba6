"""dexndm.hardware"""
