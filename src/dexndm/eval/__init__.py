"""dexndm.eval"""
