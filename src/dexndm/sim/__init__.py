"""dexndm.sim"""
