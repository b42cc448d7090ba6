"""dexndm.hand"""
